"""``ContentFilter``: the compiled content-safety engine for one policy-pack version.

Build once per pack (``from_policy`` caches on the pack content hash), then call
``scan_many`` on chunks of thousands of records. Findings come back sorted by record order,
field, start, end, scanner, category, rule, so the same input always yields the same list.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import replace
from typing import Any, Iterable, Mapping, Protocol, Sequence, cast

from review.domain.content.classifier import SoftmaxRegression
from review.domain.content.knowledge import Exemplar, KnowledgeBase
from review.domain.content.matcher import KEYWORD_TAGS, KeywordSet, Prefilter, Term, pick_engine, typo_variants
from review.domain.content.normalize import canonical_term, native, tables
from review.domain.content.rules import RuleSpec, compile_rule
from review.domain.content.scanners import (CategoryMap, ClassifierScanner, KeywordScanner, KnowledgeBaseScanner, Prepared, RegexScanner,
                                           Scanner, ScannerContext, ScannerUse, build)
from review.domain.content.taxonomy import FieldName, Finding, Record, add_fields, metadata_text

# What ``from_policy`` reads of a ``policies.content_schema.ContentSafetyPolicy`` and a
# ``ContentLibrary`` (duck-typed: the domain does not import policies).


class KeywordEntry(Protocol):
    @property
    def term(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def subcode(self) -> str | None: ...
    @property
    def severity(self) -> int: ...


class KnowledgeBaseSpec(Protocol):
    @property
    def shingle(self) -> int: ...
    @property
    def num_perm(self) -> int: ...
    @property
    def bands(self) -> int: ...
    @property
    def threshold(self) -> float: ...


class ClassifierSpec(Protocol):
    @property
    def enabled(self) -> bool: ...
    @property
    def threshold(self) -> float: ...


class ContentPolicy(Protocol):
    def level_of(self, severity: int) -> str: ...
    @property
    def regex_rules(self) -> Sequence[RuleSpec]: ...
    @property
    def knowledge_base(self) -> KnowledgeBaseSpec | None: ...
    @property
    def classifier(self) -> ClassifierSpec | None: ...
    @property
    def categories(self) -> Sequence[CategoryMap]: ...
    @property
    def media_text_fields(self) -> Sequence[str]: ...
    def scanner_uses(self) -> Sequence[ScannerUse]: ...


class Library(Protocol):
    @property
    def keywords(self) -> Sequence[KeywordEntry]: ...
    @property
    def allow_list(self) -> Sequence[str]: ...
    @property
    def exemplars(self) -> Sequence[Exemplar]: ...
    @property
    def classifier_weights(self) -> Mapping[str, Any] | None: ...


_CacheKey = tuple[str, str, tuple[str, ...] | None, bool]  # pack hash, engine, scanners, compiled fold
_CACHE: dict[_CacheKey, "ContentFilter"] = {}
_CACHE_LOCK = threading.Lock()
BATCH = 4096  # records per Hyperscan buffer
_FIELD_RANK = {"prompt": 0, "output": 1, "metadata": 2}  # Finding.sort_key's field order


class ContentFilter:
    def __init__(self, scanners: list[Scanner], prefilter: Prefilter | None, pack_version: str, pack_hash: str, engine: str,
                 media_fields: Iterable[str] = ()):
        self.scanners = scanners
        self.prefilter = prefilter
        self.pack_version = pack_version
        self.pack_hash = pack_hash
        self.engine = engine
        self.media_fields = frozenset(f.casefold() for f in media_fields)

    @property
    def remote(self) -> bool:
        """True when a scanner calls a service outside this process (it brings its own concurrency)."""
        return any(getattr(s, "remote", False) for s in self.scanners)

    def examined(self, record: Record) -> bool:
        """Whether the scanners can see the record's content: always for text; for an image,
        audio or video record only through a text field the pack names (caption, OCR,
        transcript). A media record with only a URI is not examined, so never clean."""
        if record.modality == "text":
            return True
        return any(isinstance(v, str) and v.strip() and k.casefold() in self.media_fields for k, v in record.metadata.items())

    @classmethod
    def from_policy(cls, policy: ContentPolicy, library: Library, pack_version: str, pack_hash: str, *, engine: str | None = None,
                    scanners: Iterable[str] | None = None, extra_scanners: Iterable[Scanner] = ()) -> "ContentFilter":
        """Compile ``policy`` (``ContentSafetyPolicy``) and ``library`` (``ContentLibrary``).

        The scanners are the pack's list (``policy.scanner_uses()``: names resolved by the
        registry); ``scanners`` keeps only those names (e.g. ``["keyword"]``); ``engine``
        forces ``hyperscan`` or ``ahocorasick``. Cached per (pack_hash, engine, scanners)
        when no extra scanners are given."""
        eng = pick_engine(engine)
        wanted = tuple(sorted(scanners)) if scanners is not None else None
        extra = tuple(extra_scanners)
        key = (pack_hash, eng, wanted, native() is not None)
        if not extra:
            with _CACHE_LOCK:
                hit = _CACHE.get(key)
            if hit is not None:
                return hit
        built = cls._build(policy, library, pack_version, pack_hash, eng, wanted, extra)
        if not extra:
            with _CACHE_LOCK:
                _CACHE[key] = built
        return built

    @classmethod
    def _build(cls, policy: ContentPolicy, library: Library, pack_version: str, pack_hash: str, eng: str,
               wanted: tuple[str, ...] | None, extra: tuple[Scanner, ...]) -> ContentFilter:
        tables()
        uses = [u for u in policy.scanner_uses() if wanted is None or u.use in wanted]
        if not library.exemplars:  # an empty knowledge base matches nothing: no scanner for it
            uses = [u for u in uses if u.use != "knowledge_base"]
        names = {u.use for u in uses}
        terms = [Term(k.term, canonical_term(k.term), k.category, k.subcode, k.severity, getattr(k, "glued", False),
                      getattr(k, "typos", 0) > 0) for k in library.keywords]
        # a glued multi-word term is also found written as one word ("pipebomb", a soft hyphen between its words)
        # ("3d printed gun" written as one word reads "edprintedgun": the leetspeak fold sees "3d" open a word)
        joined = [replace(t, canon=c) for t in terms if t.glued and " " in t.canon
                  for c in dict.fromkeys((t.canon.replace(" ", ""), canonical_term(t.term.replace(" ", ""))))]
        terms += joined
        # a term of a category with ``typos: 1`` is also found one typo away (``typo_variants``); a variant that is
        # another term's own spelling stays that term's
        real = {t.canon for t in terms}
        typo_terms = [t for t in terms if t.typos]
        terms += [replace(t, canon=v) for t in typo_terms for v in typo_variants(t.canon) if v not in real]
        rules = [compile_rule(r) for r in policy.regex_rules] if "regex" in names else []
        prefilter: Prefilter | None = None
        prefiltered: set[str] = set()
        if eng == "hyperscan":
            kw_terms = [t for t in terms if not t.typos or t.canon in real] if "keyword" in names else []
            prefilter = Prefilter(kw_terms, {f"rule:{r.id}": r.pattern for r in rules}, typo_terms if "keyword" in names else [])
            prefiltered = {r.id for r in rules if f"rule:{r.id}" not in prefilter.unsupported}
        ctx = ScannerContext(pack_version, policy.level_of, policy.categories, rules=rules, prefiltered=prefiltered)
        if "keyword" in names:
            ctx.keywords = KeywordSet(terms, library.allow_list, hyperscan=eng == "hyperscan")
        kb = policy.knowledge_base
        if "knowledge_base" in names and kb is not None:
            ctx.knowledge_base = KnowledgeBase(library.exemplars, kb.shingle, kb.num_perm, kb.bands, kb.threshold)
        clf = policy.classifier
        if "classifier" in names and clf is not None and clf.enabled and library.classifier_weights:
            ctx.classifier, ctx.classifier_threshold = SoftmaxRegression(library.classifier_weights), clf.threshold
        return cls([*build(uses, ctx), *extra], prefilter, pack_version, pack_hash, eng, policy.media_text_fields)

    def scan(self, record: Record) -> list[Finding]:
        return self.scan_many([record])

    def scan_many(self, records: list[Record]) -> list[Finding]:
        """All findings for a chunk of records, deterministic order."""
        findings: list[Finding] = []
        everywhere = self._keywords_everywhere
        for lo in range(0, len(records), BATCH):
            chunk = records[lo:lo + BATCH]
            texts = _texts(chunk)
            if self.prefilter is None:
                hints = None
            else:  # with the keyword scanner on every text, only the rules need the prefilter
                hints = self.prefilter.scan_rules(texts) if everywhere else self.prefilter.scan(texts)
            findings.extend(self._scan_batch(chunk, texts, hints, everywhere))
        return findings

    @functools.cached_property
    def _keywords_everywhere(self) -> bool:
        """The keyword scanner has the compiled path: in ``scan_many`` it looks at every text of a batch in one pass
        (the fold costs less than finding the candidates: on realistic text most of them are), so the prefilter's
        keyword tags are not needed there. The findings are the same: the tags only ever narrowed the texts."""
        return (self.prefilter is not None and self.prefilter.native
                and any(isinstance(s, KeywordScanner) and s.keywords.native_ready for s in self.scanners))

    # ---- raw-buffer fast path (audit input: JSONL lines scanned as bytes, one prefilter pass)
    @property
    def hinted_only(self) -> bool:
        """True when every scanner is driven by the prefilter (keyword, prefiltered regex):
        then a record whose raw bytes draw no prefilter tag cannot have a finding."""
        if self.prefilter is None:
            return False
        for s in self.scanners:
            if isinstance(s, KeywordScanner):
                continue
            if isinstance(s, RegexScanner) and all(r.id in s.prefiltered for r in s.rules):
                continue
            return False
        return True

    @property
    def all_tags(self) -> frozenset[str]:
        """Every prefilter tag: hints that make each hinted scanner look at a text in full."""
        tags = set(KEYWORD_TAGS)
        if self.prefilter is not None:
            tags.update(self.prefilter.tags)
        return frozenset(tags)

    def prefilter_segments(self, buf: bytes, starts: Sequence[int]) -> dict[int, set[str]]:
        """Prefilter tags per segment of a raw UTF-8 buffer, in one pass over the buffer:
        segment ``k`` is ``buf[starts[k]:starts[k+1]]`` (e.g. one JSONL line each)."""
        if self.prefilter is None:
            raise RuntimeError("prefilter_segments needs the hyperscan engine")
        return self.prefilter.scan_segments(buf, starts)

    def prefilter_lines(self, buf: bytes) -> dict[int, set[str]]:
        """Prefilter tags per line of a raw UTF-8 buffer (JSONL), keyed by the byte offset
        where the line starts; lines without a tag are absent (the buffer is not split)."""
        if self.prefilter is None:
            raise RuntimeError("prefilter_lines needs the hyperscan engine")
        return self.prefilter.scan_lines(buf)

    def scan_hinted(self, records: list[Record], force_full: Sequence[bool] = (),
                    line_tags: Sequence[set[str]] | None = None) -> list[Finding]:
        """``scan_many`` for the candidates of a raw-buffer prefilter: the same findings,
        and records with ``force_full[k]`` (their decoded text differs from the scanned
        bytes: JSON escapes, metadata) get every hinted scanner on every field.

        ``line_tags[k]``: the raw-buffer tags of record ``k``'s line. With the compiled
        fold they are used for all of the record's texts (a superset: the view needs no
        hints), and the candidates are not scanned a second time."""
        if self.prefilter is None:
            return self.scan_many(records)
        reuse = line_tags is not None and self.prefilter.native
        if reuse and (keyword_only := self._keyword_only) is not None:
            return self._keyword_candidates(keyword_only, records)
        full = self.all_tags
        findings: list[Finding] = []
        for lo in range(0, len(records), BATCH):
            chunk = records[lo:lo + BATCH]
            texts = _texts(chunk)
            if reuse and line_tags is not None:  # (reuse implies line_tags)
                hints: dict[int, set[str]] = {}
                for k, tags in enumerate(line_tags[lo:lo + BATCH]):
                    if tags:
                        hints[3 * k] = hints[3 * k + 1] = hints[3 * k + 2] = tags
            else:
                hints = self.prefilter.scan(texts)
            for k, forced in enumerate(force_full[lo:lo + BATCH]):
                if forced:
                    hints[3 * k] = hints[3 * k + 1] = hints[3 * k + 2] = set(full)
            findings.extend(self._scan_batch(chunk, texts, hints))
        return findings

    @property
    def keyword_only(self) -> KeywordScanner | None:
        """The keyword scanner when it is the filter's only scanner and has the compiled path: then every field of
        a candidate goes through it in one pass (``add_fields`` + ``scan_fields``), whatever the prefilter tags."""
        return self._keyword_only if self.prefilter is not None and self.prefilter.native else None

    @functools.cached_property
    def _keyword_only(self) -> KeywordScanner | None:
        """The keyword scanner when it is the only scanner and has the compiled path."""
        if len(self.scanners) == 1 and isinstance(self.scanners[0], KeywordScanner) and self.scanners[0].keywords.native_ready:
            return self.scanners[0]
        return None

    def _keyword_candidates(self, keyword_only: KeywordScanner, records: Sequence[Record]) -> list[Finding]:
        """Every field of every candidate through the keyword scanner in one compiled pass
        (each candidate line drew a keyword tag or is forced: all its fields are looked
        at). Findings come out in record, field, span order, as ``_scan_batch`` sorts."""
        owners: list[tuple[str, FieldName]] = []
        texts: list[str] = []
        for r in records:
            add_fields(owners, texts, r.id, r.prompt, r.output, r.metadata)
        return keyword_only.scan_fields(owners, texts) if texts else []

    def _prepare(self, texts: list[str]) -> Prepared | None:
        """One compiled fold per non-empty text for the keyword scanner, the classifier and the knowledge base
        (``fold_scan``), or None without the compiled fold."""
        nat = native()
        if nat is None:
            return None
        clf = next((s for s in self.scanners if isinstance(s, ClassifierScanner)), None)
        kbs = next((s for s in self.scanners if isinstance(s, KnowledgeBaseScanner)), None)
        model = clf.model.native_model if clf is not None else None
        check = kbs.kb.native_check if kbs is not None else None
        idx = [i for i, t in enumerate(texts) if t]
        sub = [texts[i] for i in idx]
        buf, views, sums, could = nat.fold_scan(sub, model, clf.model.max_chars if clf is not None else 0,
                                                check[0] if check else None, check[1] if check else 1, check[2] if check else 1.0)
        return Prepared(idx, sub, (buf, views), clf, sums, kbs, could)

    def _scan_batch(self, chunk: list[Record], texts: list[str], hints: dict[int, set[str]] | None,
                    everywhere: bool = False) -> list[Finding]:
        batch: list[Finding] = []
        prep = self._prepare(texts) if everywhere else None  # everywhere: the keyword scanner folds every text anyway
        for s in self.scanners:
            if prep is not None and prep.serves(s):
                batch.extend(cast("KeywordScanner | ClassifierScanner | KnowledgeBaseScanner", s).scan_prepared(chunk, prep))
            elif hasattr(s, "scan_batch"):
                use = _uses_hints(s) and not (everywhere and isinstance(s, KeywordScanner))
                batch.extend(s.scan_batch(chunk, texts, hints if use else None))
            else:
                for r in chunk:
                    batch.extend(s.scan(r))
        order = {r.id: k for k, r in enumerate(chunk)}
        last, rank = len(order), _FIELD_RANK
        batch.sort(key=lambda f: (order.get(f.record_id, last), rank[f.field], f.start, f.end, f.scanner, f.category, f.rule_id))
        return batch


def _texts(chunk: list[Record]) -> list[str]:
    texts: list[str] = []
    for r in chunk:
        texts.append(r.prompt)
        texts.append(r.output)
        texts.append(metadata_text(r.metadata) if r.metadata else "")
    return texts


def _uses_hints(scanner: Scanner) -> bool:
    return isinstance(scanner, (KeywordScanner, RegexScanner))
