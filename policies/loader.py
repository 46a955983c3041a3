"""Load, validate and hash policy packs.

A pack is a directory holding ``pack.yaml`` (plus files it references, such as keyword
libraries). Loading validates everything and fails with one message naming the file, the
path to the field, the bad value and what was expected. The content hash covers the YAML
and every referenced file, so an assessment can say exactly which pack graded it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policies.installed import PACKS_DIR as PACKS_DIR  # re-exported: where the shipped packs are
from policies.installed import available_packs, search_dirs
from policies.schema import KNOWN_FRAMEWORKS, PolicyPack, cross_check
from review.domain.grading import grading_problems
from review.errors import InvalidInput, NotFound

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedPack:
    pack: PolicyPack
    path: Path  # the pack.yaml file
    content_hash: str
    files: tuple[str, ...] = ()
    content_policy: Any = None  # policies.content_schema.ContentSafetyPolicy, when present

    @property
    def id(self) -> str:
        return self.pack.id

    @property
    def version(self) -> str:
        return self.pack.version

    @property
    def directory(self) -> Path:
        return self.path.parent


def resolve(ref: str | Path) -> Path:
    """A pack id, a pack directory or a pack YAML file -> the YAML file path."""
    p = Path(ref)
    if p.is_file():
        return p
    if p.is_dir() and (p / "pack.yaml").is_file():
        return p / "pack.yaml"
    if isinstance(ref, str) and "/" not in ref and not ref.endswith((".yaml", ".yml")):
        for d in search_dirs():
            candidate = d / ref / "pack.yaml"
            if candidate.is_file():
                return candidate
        raise NotFound(f"policy pack {ref!r} not found; available: {', '.join(available_packs()) or 'none'}")
    raise NotFound(f"{ref}: no such policy pack file or directory (expected a pack id, a directory with pack.yaml, or a YAML file)")


def load_pack(ref: str | Path) -> LoadedPack:
    """Load and validate a pack (cached per file path and modification time), its crosswalks included."""
    lp = _load_alone(ref)
    named = lp.pack.frameworks_mapped()
    if not named:
        return lp
    targets = {fw: None if fw == lp.id else _installed(fw) for fw in named}
    key = (str(lp.path), lp.content_hash, tuple((fw, t.content_hash if t else None) for fw, t in targets.items()))
    problems = _CHECKED.get(key)
    if problems is None:
        problems = crosswalk_problems(lp.pack, {fw: t.pack if t else None for fw, t in targets.items()})
        if len(_CHECKED) > 64:
            _CHECKED.clear()
        _CHECKED[key] = problems
    if problems:
        p, msg = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InvalidInput(f"{_display(lp.path)}: {p}: {msg}{more}")
    return lp


#: Crosswalk problems per (pack file, its hash, the hashes of the packs it maps to): checked once, not per load.
_CHECKED: dict[tuple[str, str, tuple[tuple[str, str | None], ...]], list[tuple[str, str]]] = {}


def _load_alone(ref: str | Path) -> LoadedPack:
    """The pack validated on its own (no look at the packs its crosswalks name, so two packs may map to each other)."""
    path = resolve(ref).resolve()
    st = path.stat()
    return _load_cached(str(path), st.st_mtime_ns, st.st_size)


def _installed(pack_id: str) -> LoadedPack | None:
    """The installed pack ``pack_id`` validated on its own, or None."""
    try:
        path = resolve(pack_id).absolute()
    except NotFound:
        return None
    st = path.stat()
    return _load_cached(str(path), st.st_mtime_ns, st.st_size)


def crosswalk_problems(pack: PolicyPack, targets: dict[str, PolicyPack | None]) -> list[tuple[str, str]]:
    """``maps_to`` checked against the frameworks it names (``targets``: framework -> its installed pack, or None):
    (path, problem) pairs.

    A framework is an installed pack's id (then every id must be one of its controls) or one of ``KNOWN_FRAMEWORKS``
    whose pack is not installed (then the ids cannot be checked here and are taken as written)."""
    problems: list[tuple[str, str]] = []
    known = {fw: {x.id for x in t.controls} for fw, t in targets.items() if t is not None}
    for i, c in enumerate(pack.controls):
        for fw, ids in c.maps_to.items():
            where = f"controls[{i}] ({c.id}).maps_to.{fw}"
            target = targets.get(fw)
            if fw == pack.id:
                problems.append((where, f"a control maps to other frameworks, not to its own pack {pack.id!r}; remove {fw!r}"))
            elif target is None:
                if fw not in KNOWN_FRAMEWORKS:
                    problems.append((where, f"unknown framework {fw!r}; use an installed pack's id ({', '.join(available_packs())}) or "
                                            f"one of {', '.join(KNOWN_FRAMEWORKS)}, or install its pack (a directory on "
                                            "ETHICS_REVIEW_POLICY_PATH)"))
            else:
                for k, oid in enumerate(ids):
                    if oid not in known[fw]:
                        problems.append((f"{where}[{k}]", f"{oid!r} is not a control of pack {fw} {target.version}; use one of "
                                                          f"{', '.join(x.id for x in target.controls)} (`ethics-review policy show {fw}`)"))
    return problems


MAX_YAML_NODES = 200_000  # after expanding aliases: a product file has hundreds, a pack thousands
MAX_YAML_DEPTH = 64


def parse_yaml(data: bytes, where: str, *, max_bytes: int | None = None, limit_hint: str = "") -> Any:
    """YAML text -> data, or InvalidInput naming ``where``, the line and column, and the problem.

    Hostile input is refused before it is built: more than ``max_bytes``, nesting deeper than
    64 (a file of ``[`` once crashed the C parser's composer), or more than 200,000 nodes once
    aliases are expanded (a 622-byte "billion laughs" file once took 92 s and 8 GB)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise InvalidInput(f"{where}: {len(data):,} bytes is over the {max_bytes // 1024:,} KiB limit{limit_hint}")
    try:
        _check_shape(data, where)
        return yaml.load(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise InvalidInput(f"{where}:{at} malformed YAML: {getattr(exc, 'problem', None) or exc}") from None


class _Level:
    """One open collection while walking the events: its anchor, node count, and for a mapping the keys seen."""

    __slots__ = ("anchor", "n", "keys", "at_key")

    def __init__(self, anchor: str | None, n: int, mapping: bool) -> None:
        self.anchor, self.n = anchor, n
        self.keys: dict[str, int] | None = {} if mapping else None  # key -> line of its first use
        self.at_key = mapping

    def done(self) -> None:
        """A whole node (key or value) ended at this level."""
        if self.keys is not None:
            self.at_key = not self.at_key


def _check_shape(data: bytes, where: str) -> None:
    """Walk the event stream (no objects built): depth, alias-expanded size, and duplicate keys
    (PyYAML keeps the last silently: ``answers: {a: x, a: y}`` would lose ``x`` without a word)."""
    sizes: dict[str, int] = {}
    stack: list[_Level] = [_Level(None, 0, False)]
    for ev in yaml.parse(data, Loader=_Loader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append(_Level(ev.anchor, 1, isinstance(ev, yaml.MappingStartEvent)))
            if len(stack) > MAX_YAML_DEPTH:
                m = ev.start_mark
                raise InvalidInput(f"{where}: line {m.line + 1}, column {m.column + 1}: nested more than {MAX_YAML_DEPTH} levels deep")
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            level = stack.pop()
            if level.anchor:
                sizes[level.anchor] = level.n
            stack[-1].n += level.n
            stack[-1].done()
        elif isinstance(ev, yaml.ScalarEvent):
            if ev.anchor:
                sizes[ev.anchor] = 1
            level = stack[-1]
            if level.keys is not None and level.at_key and ev.value != "<<":
                line = ev.start_mark.line + 1
                if ev.value in level.keys:
                    raise InvalidInput(f"{where}: line {line}: duplicate key {ev.value[:80]!r} (first at line {level.keys[ev.value]}); "
                                       "keep one of the two")
                level.keys[ev.value] = line
            level.n += 1
            level.done()
        elif isinstance(ev, yaml.AliasEvent):
            stack[-1].n += sizes.get(ev.anchor, 1)
            stack[-1].done()
        else:
            continue
        if stack[-1].n > MAX_YAML_NODES:
            m = ev.start_mark
            raise InvalidInput(f"{where}: line {m.line + 1}, column {m.column + 1}: more than {MAX_YAML_NODES:,} values once its "
                               "aliases (*name) are expanded; write the values out instead of repeating aliases")


@lru_cache(maxsize=32)
def _load_cached(path_str: str, _mtime: int, _size: int) -> LoadedPack:
    path = Path(path_str)
    data = path.read_bytes()
    where = _display(path)
    raw = parse_yaml(data, where)
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: a policy pack is a YAML mapping with id, version, dimensions, questions, ...; got {type(raw).__name__}")
    try:
        pack = PolicyPack.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_explain(where, exc, raw)) from None
    problems = cross_check(pack)
    if not problems:
        try:
            problems = grading_problems(pack)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}") from None
    if problems:
        p, msg = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InvalidInput(f"{where}: {p}: {msg}{more}")

    files: list[str] = []
    content_policy = None
    hasher = hashlib.sha256()
    hasher.update(b"pack.yaml\0")
    hasher.update(data)
    if pack.content_safety is not None:
        content_policy, files = _load_content_section(path, pack.content_safety)
        for rel in sorted(files):
            f = path.parent / rel
            if not f.is_file():
                raise InvalidInput(f"{where}: content_safety references {rel!r}, which does not exist beside the pack")
            hasher.update(rel.encode() + b"\0")
            hasher.update(f.read_bytes())
        ctrl = content_policy.audit_control
        if ctrl is not None and ctrl not in {c.id for c in pack.controls}:
            raise InvalidInput(f"{where}: content_safety.audit_control: {ctrl!r} is not one of the pack's controls; "
                               f"use one of {', '.join(c.id for c in pack.controls)}")
    return LoadedPack(pack=pack, path=path, content_hash=hasher.hexdigest(), files=tuple(sorted(files)), content_policy=content_policy)


def _load_content_section(path: Path, section: dict[str, Any] | str) -> tuple[Any, list[str]]:
    from policies.content_schema import ContentSafetyPolicy  # optional section, loaded on demand

    files: list[str] = []
    where = _display(path)
    if isinstance(section, str):
        files.append(section)
        sub = path.parent / section
        where = _display(sub)
        try:
            data = sub.read_bytes()
        except FileNotFoundError:
            raise InvalidInput(f"{_display(path)}: content_safety: file {section!r} not found beside the pack") from None
        section = parse_yaml(data, where)
    try:
        policy = ContentSafetyPolicy.model_validate(section)
    except ValidationError as exc:
        raise InvalidInput(_explain(where, exc, section, prefix="content_safety" if where == _display(path) else "")) from None
    files.extend(policy.referenced_files())
    return policy, files


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _explain(where: str, exc: ValidationError, raw: Any, prefix: str = "") -> str:
    """First pydantic error as 'file: path.to[3].field: value X: problem (expected ...)'."""
    errors = exc.errors(include_url=False)
    e = errors[0]
    loc = _loc(e["loc"], prefix)
    value = e.get("input")
    shown = json.dumps(value, default=str, ensure_ascii=False)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    msg = e["msg"]
    if e["type"] == "missing":
        text = f"{where}: {loc}: required field is missing"
    elif e["type"] == "extra_forbidden":
        text = f"{where}: {loc}: unknown field (check the spelling against the pack schema)"
    else:
        text = f"{where}: {loc}: bad value {shown}: {msg}"
    more = len(errors) - 1
    return text + (f" (and {more} more problem(s))" if more else "")


def _loc(parts: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in ("function-after", "function-before") or str(p).startswith(("function-", "tagged-union")):
            continue
        else:
            out += ("." if out else "") + str(p)
    return out or "(top level)"


def pack_snapshot(loaded: LoadedPack) -> dict[str, Any]:
    """The validated pack as plain data, stored with assessments so grades replay exactly."""
    return loaded.pack.model_dump(mode="json", by_alias=True)


def question_labels(pack_id: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Question texts and option labels of a pack, for showing stored answers; empty if the pack is gone (or
    does not load)."""
    try:
        pack = load_pack(pack_id).pack
    except Exception:
        return {}, {}
    return {q.id: q.text for q in pack.questions}, {(q.id, o.id): o.label for q in pack.questions for o in q.options}
