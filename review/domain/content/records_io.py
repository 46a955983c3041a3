"""Audit input: JSONL or CSV files of records, read in chunks, never whole.

* ``plan_chunks(path, fmt, lines_per_chunk)`` streams the file once and yields chunk
  descriptors (byte range + first line number), so a task gets a few integers, not records.
* ``read_chunk`` yields ``(line, Record | BadRecord)`` for one descriptor; a bad record
  names the file, line, field, value and the fix, and is skipped (never silently).
* ``scan_chunk`` is the per-chunk work of an audit: read, validate, filter. For JSONL
  with a hint-driven filter (keyword + prefiltered regex, Hyperscan) the raw chunk bytes
  are prefiltered in one pass and only lines with a tag (or an escape, or metadata) are
  decoded into ``Record`` objects and verified; the findings equal ``scan_many``'s.
"""

from __future__ import annotations

import csv
import io
import json
from hashlib import blake2b as _blake2b
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, cast

from review.domain.content import sources
from review.domain.content.normalize import native
from review.domain.content.taxonomy import FieldName, Finding, Record, add_fields

if TYPE_CHECKING:
    from review.domain.content.engine import ContentFilter

try:  # a dependency of prefect; the stdlib is the fallback
    import orjson as _orjson

    _loads: Callable[[bytes], Any] = _orjson.loads
    _JSONError: tuple[type[Exception], ...] = (_orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover
    _loads = json.loads  # same call shape for what is used here
    _JSONError = (ValueError,)

FORMATS = ("jsonl", "csv")
MODALITIES = ("text", "image", "audio", "video")
MAX_ID = 128
CSV_COLUMNS = ("id", "product", "prompt", "output", "modality", "metadata")


@dataclass(frozen=True)
class ChunkSpec:
    seq: int
    byte_start: int
    byte_end: int
    line_start: int  # 1-based line number of the chunk's first line
    lines: int


@dataclass(frozen=True)
class Oversized:
    """A line longer than the record limit: skipped at planning, never read into memory whole."""

    line: int
    size: int


DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
#: The raw-bytes prefilter pays for itself only when it rules most lines out. A chunk's first ``PROBE_LINES`` lines
#: are prefiltered first; when more than ``PREFILTER_MAX_SHARE`` of them would be looked at anyway (a tag, or a
#: JSON escape that forces a full look), the rest of the chunk skips the prefilter and every line is a candidate.
#: Measured on realistic traffic (bench audit): paragraphs, digits next to letters and full-width punctuation
#: leave nearly every line a candidate, and the prefilter pass was 40% of the chunk's time.
PROBE_LINES = 256
PREFILTER_MAX_SHARE = 0.3


@dataclass(frozen=True)
class BadRecord:
    line: int
    field: str
    value: str
    message: str  # one line: file:line: what is wrong; the fix


@dataclass
class ChunkResult:
    seq: int
    records: int = 0  # valid records
    bad: list[BadRecord] = field(default_factory=list)
    findings: list[tuple[int, Finding]] = field(default_factory=list)  # (line, finding)
    flagged_lines: int = 0
    not_examined: int = 0  # image/audio/video records with no text the pack names (``ContentFilter.examined``)
    keys: bytes = b""  # (id hash, line) pairs of the valid records, packed: duplicates across chunks are found from these


def id_key(rid: str) -> int:
    """A 64-bit hash of a record id (duplicates it suggests are confirmed on the ids themselves)."""
    return int.from_bytes(_blake2b(rid.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def pack_keys(lines: dict[str, int]) -> bytes:
    """``(id_key(rid), line)`` per record as native unsigned 64-bit pairs (``unpack_keys`` reads them back)."""
    import sys
    from array import array

    b2 = _blake2b
    keys = array("Q")
    keys.frombytes(b"".join([b2(rid.encode("utf-8", "surrogatepass"), digest_size=8).digest() for rid in lines]))
    if sys.byteorder != "little":  # the digests are id_key's little-endian integers
        keys.byteswap()
    a = array("Q", bytes(16 * len(keys)))
    a[0::2] = keys
    a[1::2] = array("Q", lines.values())
    return a.tobytes()


def unpack_keys(blob: bytes | None) -> list[tuple[int, int]]:
    from array import array

    a = array("Q")
    a.frombytes(blob or b"")
    return list(zip(a[0::2], a[1::2], strict=True))


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(sources.name(path)).suffix.lower()
    return "csv" if suffix == ".csv" else "jsonl"


def csv_header(path: str | Path) -> list[str]:
    with io.TextIOWrapper(sources.open_source(path), encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ValueError(f"{path}:1: empty CSV file; the first line must be a header with columns {', '.join(CSV_COLUMNS)}")
    cols = [h.strip().lower() for h in header]
    unknown = [c for c in cols if c not in CSV_COLUMNS]
    if unknown or "id" not in cols:
        raise ValueError(f"{path}:1: header {','.join(header)!r}: columns must be among {', '.join(CSV_COLUMNS)} and include id")
    return cols


def plan_chunks(path: str | Path, fmt: str, lines_per_chunk: int, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
                ) -> Iterator[ChunkSpec | Oversized]:
    """Chunk descriptors for the whole file, streaming (constant memory). A JSONL line longer
    than ``max_record_bytes`` ends the chunk before it and is reported as ``Oversized``."""
    if lines_per_chunk < 1:
        raise ValueError("lines_per_chunk must be >= 1")
    with sources.open_source(path) as f:
        seq, start, pos, line_start, n = 0, 0, 0, 1, 0
        if fmt == "csv":
            head = f.readline()
            pos = start = len(head)
            line_start = 2
            line_end = 1
            for line_end, row_end in _csv_rows(f, pos):
                pos = row_end
                n += 1
                if n == lines_per_chunk:
                    yield ChunkSpec(seq, start, pos, line_start, line_end - line_start + 1)
                    seq, start, line_start, n = seq + 1, pos, line_end + 1, 0
            if n:
                yield ChunkSpec(seq, start, pos, line_start, line_end - line_start + 1)
            return
        for size in _line_sizes(f, max_record_bytes):
            if size > max_record_bytes:
                if n:
                    yield ChunkSpec(seq, start, pos, line_start, n)
                    seq, line_start = seq + 1, line_start + n
                yield Oversized(line_start, size)
                pos += size
                start, line_start, n = pos, line_start + 1, 0
                continue
            pos += size
            n += 1
            if n == lines_per_chunk:
                yield ChunkSpec(seq, start, pos, line_start, n)
                seq, start, line_start, n = seq + 1, pos, line_start + n, 0
        if n:
            yield ChunkSpec(seq, start, pos, line_start, n)


def _line_sizes(f: IO[bytes], limit: int, block: int = 1 << 20) -> Iterator[int]:
    """The byte length of each line (newline included), reading a too-long line in blocks, never whole."""
    while True:
        raw = f.readline(limit + 1)
        if not raw:
            return
        size = len(raw)
        if size > limit and not raw.endswith(b"\n"):  # a long line: skip the rest of it in blocks
            while more := f.readline(block):
                size += len(more)
                if more.endswith(b"\n"):
                    break
        yield size


def _csv_rows(f: IO[bytes], pos: int) -> Iterator[tuple[int, int]]:
    """(last physical line number, byte offset after the record) per CSV record."""
    state = {"pos": pos, "line": 1}

    def lines() -> Iterator[str]:
        for raw in f:
            state["pos"] += len(raw)
            state["line"] += 1
            yield raw.decode("utf-8", "replace")

    for _ in csv.reader(lines()):
        yield state["line"], state["pos"]


def _read(path: str | Path, spec: ChunkSpec) -> bytes:
    with sources.open_source(path) as f:
        f.seek(spec.byte_start)
        return f.read(spec.byte_end - spec.byte_start)


def _bad(path: str | Path, line: int, fld: str, value: Any, what: str, fix: str) -> BadRecord:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return BadRecord(line, fld, shown, f"{path}:{line}: field {fld!r}: value {shown} {what}; {fix}")


def validate(obj: Any, path: str | Path, line: int, product: str | None) -> Record | BadRecord:
    """A ``Record`` from a decoded object, or the first problem with it."""
    if not isinstance(obj, dict):
        return _bad(path, line, "(record)", obj, "is not a JSON object", "write one object per line")
    rid = obj.get("id")
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    if not isinstance(rid, str) or not rid.strip():
        return _bad(path, line, "id", rid, "is missing or empty", "give every record a non-empty id")
    if len(rid) > MAX_ID:
        return _bad(path, line, "id", rid, f"is longer than {MAX_ID} characters", "shorten the id")
    prod = obj.get("product") or ""
    if not isinstance(prod, str):
        return _bad(path, line, "product", prod, "is not a string", "give the product name as text")
    if product and prod and prod != product:
        return _bad(path, line, "product", prod, f"does not match the audited product {product!r}",
                    "split the file per product or fix the record")
    for name in ("prompt", "output"):
        v = obj.get(name, "")
        if v is None:
            continue
        if not isinstance(v, str):
            return _bad(path, line, name, v, "is not a string", f"give {name} as text")
    modality = obj.get("modality") or "text"
    if modality not in MODALITIES:
        return _bad(path, line, "modality", modality, f"is not one of {', '.join(MODALITIES)}", "fix the modality or omit it (text)")
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        return _bad(path, line, "metadata", meta, "is not an object", "give metadata as a JSON object (e.g. {\"caption\": \"...\"})")
    return Record(id=rid, product=prod or (product or ""), prompt=obj.get("prompt") or "", output=obj.get("output") or "",
                  modality=modality, metadata=meta)  # type: ignore[arg-type]  # checked against MODALITIES above


def _decode(raw: bytes, path: str | Path, line: int) -> Any:
    try:
        return _loads(raw)
    except _JSONError as exc:
        return _bad(path, line, "(line)", raw[:40].decode("utf-8", "replace"), f"is not valid JSON ({str(exc).splitlines()[0]})",
                    "write one JSON object per line")


def read_chunk(path: str | Path, fmt: str, spec: ChunkSpec, product: str | None = None, columns: list[str] | None = None
               ) -> Iterator[tuple[int, Record | BadRecord]]:
    """Every non-blank record of one chunk, validated, with its line number."""
    data = _read(path, spec)
    if fmt == "csv":
        yield from _read_csv(data, path, spec, product, columns or list(CSV_COLUMNS))
        return
    for i, _raw, obj in _decoded(data.split(b"\n"), path, spec.line_start):
        line = spec.line_start + i
        if isinstance(obj, BadRecord):
            yield line, obj
            continue
        rid = _plain_id(obj, product)  # the common record: no full validation needed (the same Record)
        yield line, _plain(obj, rid, product) if rid is not None else validate(obj, path, line, product)


def _read_csv(data: bytes, path: str | Path, spec: ChunkSpec, product: str | None, columns: list[str]
              ) -> Iterator[tuple[int, Record | BadRecord]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield spec.line_start, _bad(path, spec.line_start, "(file)", str(exc), "is not UTF-8", "save the CSV as UTF-8")
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    prev = 0
    for row in reader:
        line = spec.line_start + prev
        prev = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(columns):
            yield line, _bad(path, line, "(row)", ",".join(row)[:40], f"has {len(row)} columns, the header has {len(columns)}",
                             "quote fields that contain commas or newlines")
            continue
        obj: dict[str, Any] = dict(zip(columns, row, strict=True))
        if obj.get("metadata"):
            try:
                obj["metadata"] = json.loads(obj["metadata"])
            except ValueError:
                yield line, _bad(path, line, "metadata", obj["metadata"], "is not JSON", "give metadata as a JSON object")
                continue
        yield line, validate(obj, path, line, product)


def scan_chunk(filt: ContentFilter, path: str | Path, fmt: str, spec: ChunkSpec, product: str | None = None,
               columns: list[str] | None = None) -> ChunkResult:
    """Read, validate and filter one chunk. Findings are ``(line, Finding)`` in line order."""
    if fmt == "jsonl" and filt.hinted_only:
        return _scan_jsonl_fast(filt, path, spec, product)
    res = ChunkResult(spec.seq)
    records: list[Record] = []
    lines: dict[str, int] = {}
    for line, item in read_chunk(path, fmt, spec, product, columns):
        if isinstance(item, BadRecord):
            res.bad.append(item)
        elif item.id in lines:
            res.bad.append(_dup(path, line, item.id, lines[item.id]))
        else:
            lines[item.id] = line
            records.append(item)
            res.not_examined += not filt.examined(item)
    return _finish(res, filt.scan_many(records), lines, len(records))


def _dup(path: str | Path, line: int, rid: str, first: int) -> BadRecord:
    return _bad(path, line, "id", rid, f"repeats the id of line {first}", "give every record a unique id")


def _finish(res: ChunkResult, findings: list[Finding], lines: dict[str, int], n: int) -> ChunkResult:
    res.records = n
    res.keys = pack_keys(lines)
    res.findings = [(lines[f.record_id], f) for f in findings]
    res.flagged_lines = len({line for line, _ in res.findings})
    return res


def _scan_jsonl_fast(filt: ContentFilter, path: str | Path, spec: ChunkSpec, product: str | None) -> ChunkResult:
    return scan_jsonl(filt, _read(path, spec), path, spec.line_start, spec.seq, product)


def scan_jsonl(filt: ContentFilter, data: bytes, path: str | Path, line_start: int = 1, seq: int = 0,
               product: str | None = None) -> ChunkResult:
    """The audit's JSONL path on a chunk's bytes (``filt.hinted_only``): the prefilter (or not, see
    ``_prefilter``), every line decoded and checked, the candidate lines filtered. The benchmarks time this."""
    raws = data.split(b"\n")
    starts = [0, *accumulate(len(r) + 1 for r in raws)][:-1]
    tags, everything = _prefilter(filt, data, raws, starts)
    decoded = _decoded(raws, path, line_start)
    fast = _all_plain(filt, decoded, raws, tags, everything, line_start, seq, product)
    if fast is not None:
        return fast
    res = ChunkResult(seq)
    lines: dict[str, int] = {}
    cands: list[Record] = []
    forced: list[bool] = []
    cand_tags: list[set[str]] = []
    none: set[str] = set()
    # keyword-only (compiled): the candidates' fields go straight to the keyword scanner, no Record for plain lines
    kw = filt.keyword_only
    owners: list[tuple[str, FieldName]] = []
    texts: list[str] = []
    n = 0
    for i, raw, obj in decoded:
        line = line_start + i
        rec = obj if isinstance(obj, BadRecord) else _quick(obj, path, line, product)
        if isinstance(rec, BadRecord):
            res.bad.append(rec)
            continue
        rid = rec if isinstance(rec, str) else rec.id
        if rid in lines:
            res.bad.append(_dup(path, line, rid, lines[rid]))
            continue
        lines[rid] = line
        n += 1
        if isinstance(rec, str):  # plain: no metadata, so a media record has no text of its own
            res.not_examined += obj.get("modality", "text") != "text"
        else:
            res.not_examined += not filt.examined(rec)
        t = tags.get(i)
        escaped = everything or b"\\" in raw  # the decoded text differs from the scanned bytes: look at everything
        if t or escaped or not isinstance(rec, str):
            if kw is not None:
                if isinstance(rec, str):
                    add_fields(owners, texts, rec, obj.get("prompt", ""), obj.get("output", ""), None)
                else:
                    add_fields(owners, texts, rec.id, rec.prompt, rec.output, rec.metadata)
                continue
            if isinstance(rec, str):
                rec = _plain(obj, rec, product)
            cands.append(rec)
            forced.append(escaped or bool(rec.metadata))
            cand_tags.append(t or none)
    if kw is not None:
        return _finish(res, kw.scan_fields(owners, texts) if texts else [], lines, n)
    return _finish(res, filt.scan_hinted(cands, forced, cand_tags), lines, n)


def _decoded(raws: list[bytes], path: str | Path, line_start: int) -> list[tuple[int, bytes, Any]]:
    """(index, line, decoded object or BadRecord) of the non-blank lines: the whole chunk in one decoder call when
    it is valid JSON line by line (one object per line: the counts agree), else line by line with the errors."""
    idx = [i for i, raw in enumerate(raws) if raw and not raw.isspace()]
    try:
        objs = _loads(b"[" + b",".join([raws[i] for i in idx]) + b"]")
    except _JSONError:
        objs = None
    if objs is not None and len(objs) == len(idx):
        return list(zip(idx, [raws[i] for i in idx], objs, strict=True))
    return [(i, raws[i], _decode(raws[i], path, line_start + i)) for i in idx]


def _all_plain(filt: ContentFilter, decoded: list[tuple[int, bytes, Any]], raws: list[bytes], tags: dict[int, set[str]],
               everything: bool, line_start: int, seq: int, product: str | None) -> ChunkResult | None:
    """``scan_jsonl`` for the common chunk, in bulk: every line a plain text record with its own id (else None:
    the line-by-line path names what is wrong). Same result, a fraction of the per-line work."""
    cand = (range(len(decoded)) if everything
            else [k for k, (i, raw, _) in enumerate(decoded) if i in tags or b"\\" in raw])
    kw = filt.keyword_only
    owners: list[tuple[str, FieldName]] = []
    texts: list[str] = []
    nat = native()
    if nat is not None:  # compiled: the plain-record check, and the candidates' fields when keyword-only
        got = nat.plain_fields([obj for _, _, obj in decoded], product, MODALITIES, MAX_ID,
                               (None if everything else cast("list[int]", cand)) if kw is not None else [])
        if got is None:
            return None
        rids, owners, texts, media = got
    else:
        ids = [_plain_id(obj, product) for _, _, obj in decoded]
        if None in ids:
            return None
        rids = cast("list[str]", ids)
        # plain records have no metadata, so a media one has no text of its own: not examined
        media = sum(1 for _, _, obj in decoded if obj.get("modality", "text") != "text")
        if kw is not None:
            for k in cand:
                obj = decoded[k][2]
                add_fields(owners, texts, rids[k], obj.get("prompt", ""), obj.get("output", ""), None)
    if len(set(rids)) != len(rids):
        return None
    res = ChunkResult(seq)
    res.not_examined = media
    lines = dict(zip(rids, [line_start + i for i, _, _ in decoded], strict=True))
    if kw is not None:
        return _finish(res, kw.scan_fields(owners, texts) if texts else [], lines, len(rids))
    none: set[str] = set()
    cands = [_plain(decoded[k][2], rids[k], product) for k in cand]
    forced = [everything or b"\\" in decoded[k][1] for k in cand]
    cand_tags = [tags.get(decoded[k][0]) or none for k in cand]
    return _finish(res, filt.scan_hinted(cands, forced, cand_tags), lines, len(rids))


def _prefilter(filt: ContentFilter, data: bytes, raws: list[bytes], starts: list[int]) -> tuple[dict[int, set[str]], bool]:
    """Prefilter tags per line, or ``({}, True)`` when the chunk's first lines show that the prefilter would
    leave most lines candidates anyway (then every line is looked at in full: the same findings)."""
    probe = min(len(raws), PROBE_LINES)
    if probe < len(raws):
        # a JSON escape (a line break in a paragraph, a quote) forces a full look at its line anyway: when the
        # probe's escapes alone pass the share, the prefilter scan is not worth running at all
        if sum(1 for i in range(probe) if b"\\" in raws[i]) > PREFILTER_MAX_SHARE * probe:
            return {}, True
        head = filt.prefilter_segments(data[:starts[probe]], starts[:probe])
        looked = sum(1 for i in range(probe) if i in head or b"\\" in raws[i])
        if looked > PREFILTER_MAX_SHARE * probe:
            return {}, True
    return filt.prefilter_segments(data, starts), False


def _quick(obj: Any, path: str | Path, line: int, product: str | None) -> str | Record | BadRecord:
    """The id of a plain text record (the common case, no ``Record`` built), else the full
    validation result (a ``Record`` with metadata, or a ``BadRecord``)."""
    rid = _plain_id(obj, product)
    return rid if rid is not None else validate(obj, path, line, product)


def _plain_id(obj: Any, product: str | None) -> str | None:
    """The id of a plain text record (valid as it stands, no metadata), else None (``validate`` decides)."""
    if type(obj) is dict:
        rid, p, o = obj.get("id"), obj.get("prompt", ""), obj.get("output", "")
        prod = obj.get("product")
        if (type(rid) is str and rid.strip() and len(rid) <= MAX_ID and type(p) is str and type(o) is str
                and not obj.get("metadata") and obj.get("modality", "text") in MODALITIES
                and (prod is None or prod == "" or (type(prod) is str and (not product or prod == product)))):
            return rid
    return None


def _plain(obj: dict[str, Any], rid: str, product: str | None) -> Record:
    """The ``Record`` of an object ``_quick`` accepted as plain text (its checks stand)."""
    return Record(rid, obj.get("product") or product or "", obj.get("prompt", ""), obj.get("output", ""),
                  obj.get("modality", "text"))


def member_lines(path: str | Path, fmt: str, spec: ChunkSpec, bad_lines: set[int], columns: list[str] | None = None) -> list[int]:
    """Line numbers of the valid records of a chunk, in order, knowing its bad lines
    (JSONL: no parsing, just the non-blank lines that were not bad)."""
    if fmt == "csv":
        return [line for line, item in read_chunk(path, fmt, spec, None, columns) if isinstance(item, Record) and line not in bad_lines]
    data = _read(path, spec)
    return [spec.line_start + i for i, raw in enumerate(data.split(b"\n"))
            if raw and not raw.isspace() and spec.line_start + i not in bad_lines]


def records_at(path: str | Path, fmt: str, spec: ChunkSpec, lines: set[int], product: str | None = None,
               columns: list[str] | None = None) -> dict[int, Record]:
    """The records on the given lines of a chunk (only those lines are decoded for JSONL)."""
    if fmt == "csv":
        return {line: item for line, item in read_chunk(path, fmt, spec, product, columns) if line in lines and isinstance(item, Record)}
    data = _read(path, spec)
    out: dict[int, Record] = {}
    for i, raw in enumerate(data.split(b"\n")):
        line = spec.line_start + i
        if line in lines:
            obj = _decode(raw, path, line)
            rec = obj if isinstance(obj, BadRecord) else validate(obj, path, line, product)
            if isinstance(rec, Record):
                out[line] = rec
    return out
