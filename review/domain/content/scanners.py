"""Scanner plug-ins: a ``Scanner`` protocol, a registry (built-ins, explicit registration and
the entry-point group ``ethics_review.scanners``) and the built-in local scanners.

A pack lists an audit's scanners (``content_safety.scanners: [{use: NAME, ...options}]``);
``build`` resolves each name in the registry and calls its factory as
``factory(context, options)`` with a ``ScannerContext`` (the compiled library, the pack's
taxonomy) and the entry's options. A plugin publishes such a factory under the entry-point
group; it raises ``ValueError`` for a bad option (the audit names the pack entry).

A scanner may also offer ``scan_batch(records, texts, hints)`` for the engine's fast path:
``texts`` is the flat list ``[r0.prompt, r0.output, r0.metadata_text, r1.prompt, ...]`` and
``hints`` the Hyperscan prefilter result (text index -> tags) or ``None`` (no prefilter:
look at every text). A scanner that calls a service outside the process (``remote = True``)
may read and fill the ``RESULT_CACHE`` of the scan (answers by text hash), so a resumed run
does not ask twice."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, cast, runtime_checkable

from review.domain.content.classifier import SAFE, SoftmaxRegression
from review.domain.content.knowledge import KnowledgeBase
from review.domain.content.matcher import KEYWORD_TAGS, Hit, KeywordSet
from review.domain.content.rules import CompiledRule
from review.domain.content.taxonomy import FIELDS, FieldName, Finding, Level, Record, level_of

ENTRY_POINT_GROUP = "ethics_review.scanners"


@runtime_checkable
class Scanner(Protocol):
    name: str
    version: str

    def scan(self, record: Record) -> list[Finding]: ...


#: Prefilter tags per text index of a batch (``scan_batch``'s ``hints``).
Hints = Mapping[int, set[str]]


class ResultCache(Protocol):
    """Answers of remote scanners by key (a hash of scanner, model and text): kept by the caller."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]: ...

    def put_many(self, scanner: str, items: Mapping[str, Any]) -> None: ...


#: The cache of the scan in progress (set by the audit around a chunk; ``None``: no cache).
RESULT_CACHE: ContextVar[ResultCache | None] = ContextVar("RESULT_CACHE", default=None)


class CategoryMap(Protocol):
    """What a scanner reads of a pack category (``policies.content_schema.ContentCategory``)."""

    @property
    def code(self) -> str: ...
    @property
    def default_severity(self) -> int: ...
    @property
    def llama_guard(self) -> Sequence[str]: ...
    @property
    def openai(self) -> Sequence[str]: ...


@dataclass
class ScannerContext:
    """What a scanner factory gets besides its options: the pack's compiled library and taxonomy."""

    pack_version: str
    level: Callable[[int], str]
    categories: Sequence[CategoryMap]
    keywords: KeywordSet | None = None
    rules: list[CompiledRule] = field(default_factory=list)
    prefiltered: set[str] = field(default_factory=set)
    knowledge_base: KnowledgeBase | None = None
    classifier: SoftmaxRegression | None = None
    classifier_threshold: float = 0.8

    def severity_of(self, category: str) -> int:
        return next((c.default_severity for c in self.categories if c.code == category), 4)

    def mapped(self, taxonomy: str) -> dict[str, list[str]]:
        """A model's category (``taxonomy``: ``openai`` or ``llama_guard``) -> the pack categories mapping it."""
        out: dict[str, list[str]] = {}
        for c in self.categories:
            for name in getattr(c, taxonomy):
                out.setdefault(name, []).append(c.code)
        return out


Factory = Callable[[ScannerContext, Mapping[str, Any]], Scanner]
_REGISTRY: dict[str, Factory] = {}


def register_scanner(name: str, factory: Factory) -> None:
    """Register a scanner factory under ``name`` (explicit registration wins over entry points)."""
    _REGISTRY[name] = factory


def available_scanners() -> dict[str, Factory]:
    """Explicitly registered scanners plus those published under the entry-point group."""
    found: dict[str, Factory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    found.update(_REGISTRY)
    return found


class ScannerUse(Protocol):
    """One entry of a pack's scanner list (``policies.content_schema.ScannerUse``)."""

    @property
    def use(self) -> str: ...
    def options(self) -> dict[str, Any]: ...


class ScannerConfigError(ValueError):
    """A pack's scanner entry names no known scanner, or its factory refused the options."""


def build(uses: Sequence[ScannerUse], ctx: ScannerContext, skip: Iterable[str] = ()) -> list[Scanner]:
    """The scanners of ``uses``, in order, but those named in ``skip``. Raises ``ScannerConfigError`` naming the entry."""
    known = available_scanners()
    out: list[Scanner] = []
    skipped = set(skip)
    for i, u in enumerate(uses):
        if u.use in skipped:
            continue
        where = f"content_safety.scanners[{i}] ({u.use})"
        factory = known.get(u.use)
        if factory is None:
            raise ScannerConfigError(f"{where}: no scanner named {u.use!r}; known: {', '.join(sorted(known))} "
                                     f"(a plugin registers under the entry-point group {ENTRY_POINT_GROUP!r})")
        try:
            out.append(factory(ctx, u.options()))
        except ScannerConfigError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise ScannerConfigError(f"{where}: {exc}") from None
    return out


def _texts_of(record: Record) -> list[str]:
    return [record.prompt, record.output, record.field_text("metadata")]


class _Base:
    name = "base"
    version = "1"

    def __init__(self, pack_version: str, level: Callable[[int], str] = level_of):
        self.pack_version = pack_version
        # A pack's level names are the ``Level`` literals (``SeverityLevel.name``); its
        # ``level_of`` is typed ``str``.
        self.level = cast("Callable[[int], Level]", level)

    def scan(self, record: Record) -> list[Finding]:
        return self.scan_batch([record], _texts_of(record), None)

    def scan_batch(self, records: Sequence[Record], texts: Sequence[str], hints: Hints | None) -> list[Finding]:
        out: list[Finding] = []
        idxs = range(len(texts)) if hints is None else sorted(i for i, tags in hints.items() if self.wants(tags))
        for i in idxs:
            text = texts[i]
            if text:
                out.extend(self.scan_text(records[i // 3].id, FIELDS[i % 3], text))
        return out

    def wants(self, tags: set[str]) -> bool:
        return True

    def scan_text(self, record_id: str, field: FieldName, text: str) -> list[Finding]:
        raise NotImplementedError

    def _finding(self, record_id: str, field: FieldName, category: str, subcode: str | None, severity: int, start: int,
                 end: int, matched: str, rule_id: str, score: float | None = None) -> Finding:
        if not 0 <= severity <= 7:
            raise ValueError(f"{self.name}: severity {severity!r} of {category!r} is outside 0-7")
        return Finding(record_id=record_id, category=category, subcode=subcode, severity=severity,
                       level=self.level(severity), scanner=self.name, pack_version=self.pack_version,
                       field=field, start=start, end=end, matched=matched, rule_id=rule_id, score=score, scanner_version=self.version)


@dataclass(frozen=True)
class Prepared:
    """One compiled fold per non-empty text of a batch, shared by the built-in scanners (``_native.fold_scan``):
    the keyword views, and from the same fold the classifier's sums and the knowledge base's prefilter answers."""

    idx: list[int]  # positions of the non-empty texts in the batch's texts (record k's fields at 3k, 3k + 1, 3k + 2)
    texts: list[str]
    folded: tuple[bytes, object]  # fold_views(texts)
    classifier: "ClassifierScanner | None" = None
    sums: list[tuple[tuple[int, ...], int, float]] | None = None
    knowledge: "KnowledgeBaseScanner | None" = None
    could: list[bool] | None = None

    def serves(self, scanner: object) -> bool:
        """Whether ``scanner`` takes its batch from here (``scan_prepared``)."""
        return ((isinstance(scanner, KeywordScanner) and scanner.keywords.native_ready)
                or (scanner is self.classifier and self.sums is not None)
                or (scanner is self.knowledge and self.could is not None))


class KeywordScanner(_Base):
    name = "keyword"
    version = "1"

    def __init__(self, keywords: KeywordSet, pack_version: str, level: Callable[[int], str] = level_of):
        super().__init__(pack_version, level)
        self.keywords = keywords
        for group in keywords.groups:  # checked once here, not per finding
            for t in group:
                if not 0 <= t.severity <= 7:
                    raise ValueError(f"keyword {t.term!r}: severity {t.severity!r} is outside 0-7")
        self._levels = {sev: self.level(sev) for sev in range(8)}

    def scan_batch(self, records: Sequence[Record], texts: Sequence[str], hints: Hints | None) -> list[Finding]:
        if hints is None:
            if self.keywords.native_ready:  # every text, one compiled pass
                idx = [i for i, text in enumerate(texts) if text]
                return self.scan_fields([(records[i // 3].id, FIELDS[i % 3]) for i in idx], [texts[i] for i in idx])
            return super().scan_batch(records, texts, None)
        out: list[Finding] = []
        idx = [i for i in sorted(i for i, tags in hints.items() if not KEYWORD_TAGS.isdisjoint(tags)) if texts[i]]
        found = self.keywords.find_many([texts[i] for i in idx], [hints[i] for i in idx])
        for i, hits in zip(idx, found, strict=True):
            if hits:
                out.extend(self._findings(records[i // 3].id, FIELDS[i % 3], texts[i], hits))
        return out

    def scan_prepared(self, records: Sequence[Record], prep: Prepared) -> list[Finding]:
        return self.scan_fields([(records[i // 3].id, FIELDS[i % 3]) for i in prep.idx], prep.texts, prep.folded)

    def scan_fields(self, owners: Sequence[tuple[str, FieldName]], texts: list[str],
                    folded: tuple[bytes, object] | None = None) -> list[Finding]:
        """Findings for ``texts[k]`` (record id, field ``owners[k]``), in input order then
        span order: one compiled pass over all texts (``keywords.native_ready``); ``folded``: their views, when
        folded already (``Prepared``)."""
        name, pv, levels, v = self.name, self.pack_version, self._levels, self.version
        out: list[Finding] = []
        for j, s, e, t in self.keywords.find_flat(texts, folded=folded):
            rid, field = owners[j]
            out.append(Finding(rid, t.category, t.subcode, t.severity, levels[t.severity], name, pv, field,
                               s, e, texts[j][s:e], t.term, None, v))
        return out

    def _findings(self, record_id: str, field: FieldName, text: str, hits: Iterable[Hit]) -> list[Finding]:
        name, pv, levels, v = self.name, self.pack_version, self._levels, self.version
        return [Finding(record_id, t.category, t.subcode, t.severity, levels[t.severity], name, pv, field,
                        s, e, text[s:e], t.term, None, v) for s, e, t in hits]

    def scan_text(self, record_id: str, field: FieldName, text: str, hints: set[str] | None = None) -> list[Finding]:
        return self._findings(record_id, field, text, self.keywords.find(text, hints))


class RegexScanner(_Base):
    name = "regex"
    version = "1"

    def __init__(self, rules: list[CompiledRule], pack_version: str, level: Callable[[int], str] = level_of,
                 prefiltered: set[str] | frozenset[str] = frozenset()):
        super().__init__(pack_version, level)
        self.rules = rules
        self.prefiltered = set(prefiltered)  # rule ids whose candidates come from the prefilter

    def scan_batch(self, records: Sequence[Record], texts: Sequence[str], hints: Hints | None) -> list[Finding]:
        if hints is None or not self.prefiltered:
            return super().scan_batch(records, texts, None)
        out: list[Finding] = []
        always = [r for r in self.rules if r.id not in self.prefiltered]
        tagged = [(f"rule:{r.id}", r) for r in self.rules if r.id in self.prefiltered]
        # only the texts a rule's tag names, unless a rule has no prefilter pattern (then every text)
        for i in (range(len(texts)) if always else sorted(hints)):
            text = texts[i]
            tags = hints.get(i, ())
            rules = [r for tag, r in tagged if tag in tags] + always
            if text and rules:
                out.extend(self._scan_rules(records[i // 3].id, FIELDS[i % 3], text, rules))
        return out

    def scan_text(self, record_id: str, field: FieldName, text: str) -> list[Finding]:
        return self._scan_rules(record_id, field, text, self.rules)

    def _scan_rules(self, record_id: str, field: FieldName, text: str, rules: Iterable[CompiledRule]) -> list[Finding]:
        out: list[Finding] = []
        for rule in rules:
            for s, e, m in rule.find(text):
                out.append(self._finding(record_id, field, rule.category, rule.subcode, rule.severity, s, e, m, rule.id))
        return out


class KnowledgeBaseScanner(_Base):
    name = "knowledge_base"
    version = "1"

    def __init__(self, kb: KnowledgeBase, pack_version: str, level: Callable[[int], str] = level_of):
        super().__init__(pack_version, level)
        self.kb = kb

    def scan_text(self, record_id: str, field: FieldName, text: str, could: bool | None = None) -> list[Finding]:
        return [self._finding(record_id, field, m.category, None, m.severity, 0, len(text), text,
                              m.exemplar_id, m.similarity) for m in self.kb.match(text, could)]

    def scan_prepared(self, records: Sequence[Record], prep: Prepared) -> list[Finding]:
        assert prep.could is not None  # served only with the prefilter's answers (Prepared.serves)
        out: list[Finding] = []
        for i, text, could in zip(prep.idx, prep.texts, prep.could, strict=True):
            if could:
                out.extend(self.scan_text(records[i // 3].id, FIELDS[i % 3], text, True))
        return out


class ClassifierScanner(_Base):
    """The pack's offline softmax-regression classifier (``classifier.SoftmaxRegression``)."""

    name = "classifier"

    def __init__(self, model: SoftmaxRegression, pack_version: str, threshold: float = 0.8,
                 severity: Callable[[str], int] = lambda c: 4, level: Callable[[int], str] = level_of):
        super().__init__(pack_version, level)
        self.model = model
        self.threshold = threshold
        self.severity = severity
        self.version = model.version

    def scan_text(self, record_id: str, field: FieldName, text: str) -> list[Finding]:
        return self._decided(record_id, field, text, self.model.predict(text))

    def scan_batch(self, records: Sequence[Record], texts: Sequence[str], hints: Hints | None) -> list[Finding]:
        if hints is not None:
            return super().scan_batch(records, texts, hints)
        idx = [i for i, text in enumerate(texts) if text]
        return self._judged(records, idx, [texts[i] for i in idx], None)

    def scan_prepared(self, records: Sequence[Record], prep: Prepared) -> list[Finding]:
        return self._judged(records, prep.idx, prep.texts, prep.sums)

    def _judged(self, records: Sequence[Record], idx: list[int], texts: list[str],
                sums: list[tuple[tuple[int, ...], int, float]] | None) -> list[Finding]:
        out: list[Finding] = []
        for i, text, decided in zip(idx, texts, self.model.predict_many(texts, sums), strict=True):
            if decided[0] != SAFE and decided[1] >= self.threshold:
                out.extend(self._decided(records[i // 3].id, FIELDS[i % 3], text, decided))
        return out

    def _decided(self, record_id: str, field: FieldName, text: str, decided: tuple[str, float]) -> list[Finding]:
        label, p = decided
        if label == SAFE or p < self.threshold:
            return []
        return [self._finding(record_id, field, label, None, self.severity(label), 0, len(text), text,
                              f"classifier:{label}", round(p, 4))]


def _no_options(name: str, options: Mapping[str, Any]) -> None:
    if options:
        raise ValueError(f"{name} takes no options (got {', '.join(sorted(options))})")


def _keyword(ctx: ScannerContext, options: Mapping[str, Any]) -> Scanner:
    _no_options("keyword", options)
    if ctx.keywords is None:
        raise ValueError("the keyword library was not compiled")
    return KeywordScanner(ctx.keywords, ctx.pack_version, ctx.level)


def _regex(ctx: ScannerContext, options: Mapping[str, Any]) -> Scanner:
    _no_options("regex", options)
    return RegexScanner(ctx.rules, ctx.pack_version, ctx.level, ctx.prefiltered)


def _knowledge_base(ctx: ScannerContext, options: Mapping[str, Any]) -> Scanner:
    _no_options("knowledge_base", options)
    if ctx.knowledge_base is None:
        raise ValueError("the pack has no knowledge base (knowledge_base: {file: ...} with exemplars)")
    return KnowledgeBaseScanner(ctx.knowledge_base, ctx.pack_version, ctx.level)


def _classifier(ctx: ScannerContext, options: Mapping[str, Any]) -> Scanner:
    _no_options("classifier", options)
    if ctx.classifier is None:
        raise ValueError("the pack has no enabled classifier with weights (classifier: {weights: ...})")
    return ClassifierScanner(ctx.classifier, ctx.pack_version, ctx.classifier_threshold, ctx.severity_of, ctx.level)


register_scanner("keyword", _keyword)
register_scanner("regex", _regex)
register_scanner("knowledge_base", _knowledge_base)
register_scanner("classifier", _classifier)
