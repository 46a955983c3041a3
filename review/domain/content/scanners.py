"""Scanner plug-ins: a ``Scanner`` protocol, a registry (entry points group
``ethics_review.scanners`` plus explicit registration) and the built-in scanners.

A scanner may also offer ``scan_batch(records, texts, hints)`` for the engine's fast path:
``texts`` is the flat list ``[r0.prompt, r0.output, r0.metadata_text, r1.prompt, ...]`` and
``hints`` the Hyperscan prefilter result (text index -> tags) or ``None`` (no prefilter:
look at every text)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, Iterable, Mapping, Protocol, Sequence, cast, runtime_checkable

from review.domain.content.classifier import SAFE, NaiveBayes
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

_REGISTRY: dict[str, Callable[..., Scanner]] = {}


def register_scanner(name: str, factory: Callable[..., Scanner]) -> None:
    """Register a scanner factory under ``name`` (explicit registration wins over entry points)."""
    _REGISTRY[name] = factory


def available_scanners() -> dict[str, Callable[..., Scanner]]:
    """Explicitly registered scanners plus those published under the entry-point group."""
    found: dict[str, Callable[..., Scanner]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    found.update(_REGISTRY)
    return found


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
                       field=field, start=start, end=end, matched=matched, rule_id=rule_id, score=score)


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
            return super().scan_batch(records, texts, None)
        out: list[Finding] = []
        idx = [i for i in sorted(i for i, tags in hints.items() if not KEYWORD_TAGS.isdisjoint(tags)) if texts[i]]
        found = self.keywords.find_many([texts[i] for i in idx], [hints[i] for i in idx])
        for i, hits in zip(idx, found, strict=True):
            if hits:
                out.extend(self._findings(records[i // 3].id, FIELDS[i % 3], texts[i], hits))
        return out

    def scan_fields(self, owners: Sequence[tuple[str, FieldName]], texts: list[str]) -> list[Finding]:
        """Findings for ``texts[k]`` (record id, field ``owners[k]``), in input order then
        span order: one compiled pass over all texts (``keywords.native_ready``)."""
        name, pv, levels = self.name, self.pack_version, self._levels
        out: list[Finding] = []
        for j, s, e, t in self.keywords.find_flat(texts):
            rid, field = owners[j]
            out.append(Finding(rid, t.category, t.subcode, t.severity, levels[t.severity], name, pv, field,
                               s, e, texts[j][s:e], t.term))
        return out

    def _findings(self, record_id: str, field: FieldName, text: str, hits: Iterable[Hit]) -> list[Finding]:
        name, pv, levels = self.name, self.pack_version, self._levels
        return [Finding(record_id, t.category, t.subcode, t.severity, levels[t.severity], name, pv, field,
                        s, e, text[s:e], t.term) for s, e, t in hits]

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
        for i, text in enumerate(texts):
            tags = hints.get(i, ())
            rules = [r for r in self.rules if r.id in self.prefiltered and f"rule:{r.id}" in tags] + always
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

    def scan_text(self, record_id: str, field: FieldName, text: str) -> list[Finding]:
        return [self._finding(record_id, field, m.category, None, m.severity, 0, len(text), text,
                              m.exemplar_id, m.similarity) for m in self.kb.match(text)]


class ClassifierScanner(_Base):
    name = "classifier_nb"

    def __init__(self, model: NaiveBayes, pack_version: str, threshold: float = 0.8,
                 severity: Callable[[str], int] = lambda c: 4, level: Callable[[int], str] = level_of):
        super().__init__(pack_version, level)
        self.model = model
        self.threshold = threshold
        self.severity = severity
        self.version = model.version

    def scan_text(self, record_id: str, field: FieldName, text: str) -> list[Finding]:
        label, p = self.model.predict(text)
        if label == SAFE or p < self.threshold:
            return []
        return [self._finding(record_id, field, label, None, self.severity(label), 0, len(text), text,
                              f"classifier:{label}", round(p, 4))]


register_scanner("keyword", KeywordScanner)
register_scanner("regex", RegexScanner)
register_scanner("knowledge_base", KnowledgeBaseScanner)
register_scanner("classifier_nb", ClassifierScanner)
