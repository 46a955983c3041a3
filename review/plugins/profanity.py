"""English profanity from a local model: ``alt-profanity-check`` (a linear SVM over TF-IDF
features; the package ships its trained model, nothing is downloaded at run time), installed as
the optional extra ``pip install 'ethics-review[profanity]'``.

Pack entry: ``{use: profanity_check, category: harassment_defamation, threshold: 0.8}``; every
text scoring at least ``threshold`` is a finding of ``category`` (its severity the category's,
or ``severity``). The model knows English only: it is a backstop for English chat, not a
replacement for the keyword library or a moderation model.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Mapping, Sequence

from review.domain.content.scanners import Scanner, ScannerContext, register_scanner
from review.domain.content.taxonomy import FIELDS, Finding, Level, Record, metadata_text

EXTRA = "pip install 'ethics-review[profanity]' (alt-profanity-check)"


class ProfanityCheck:
    name = "profanity_check"

    def __init__(self, ctx: ScannerContext, options: Mapping[str, Any]):
        unknown = sorted(set(options) - {"category", "threshold", "severity"})
        if unknown:
            raise ValueError(f"unknown option {unknown[0]!r}; its options are category, threshold, severity")
        codes = {c.code for c in ctx.categories}
        self.category = str(options.get("category", "harassment_defamation"))
        if self.category not in codes:
            raise ValueError(f"category {self.category!r} is not one of the pack's ({', '.join(sorted(codes))})")
        self.threshold = float(options.get("threshold") or 0.8)
        sev = options.get("severity")
        self.severity = int(sev) if sev is not None else ctx.severity_of(self.category)
        self.level: Level = ctx.level(self.severity)  # type: ignore[assignment]  # a pack's level names are the Level literals
        self.pack_version = ctx.pack_version
        try:
            from profanity_check import predict_prob

            self.version = version("alt-profanity-check")
        except (ImportError, PackageNotFoundError):
            raise ValueError(f"the profanity_check scanner needs its model package: {EXTRA}") from None
        self._predict: Callable[[list[str]], Sequence[float]] = predict_prob

    def scan(self, record: Record) -> list[Finding]:
        return self.scan_batch([record], [record.prompt, record.output, metadata_text(record.metadata)], None)

    def scan_batch(self, records: Sequence[Record], texts: Sequence[str], hints: object) -> list[Finding]:
        idx = [i for i, t in enumerate(texts) if t]
        if not idx:
            return []
        probs = self._predict([texts[i] for i in idx])  # one vectorized call per batch
        return [Finding(records[i // 3].id, self.category, None, self.severity, self.level, self.name, self.pack_version, FIELDS[i % 3],
                        0, len(texts[i]), texts[i], "profanity_check", round(float(p), 4), self.version)
                for i, p in zip(idx, probs, strict=True) if p >= self.threshold]


def factory(ctx: ScannerContext, options: Mapping[str, Any]) -> Scanner:
    return ProfanityCheck(ctx, options)


register_scanner("profanity_check", factory)
