"""The optional local model: ``profanity_check`` (alt-profanity-check, the extra ``ethics-review[profanity]``)."""

from __future__ import annotations

import sys

import pytest

from review.domain.content.scanners import ScannerConfigError, ScannerContext, build
from review.domain.content.taxonomy import Record


def ctx(policy) -> ScannerContext:
    return ScannerContext("test", policy.level_of, policy.categories)


class Use:
    def __init__(self, use, **options):
        self.use, self._options = use, options

    def options(self):
        return dict(self._options)


def test_profanity_check_flags_english_profanity(policy):
    pytest.importorskip("profanity_check")
    from review import plugins

    plugins.register()
    [sc] = build([Use("profanity_check", threshold=0.9)], ctx(policy))
    recs = [Record("a", prompt="have a nice day", output="you are a fucking idiot"), Record("b", prompt="the garden is lovely")]
    found = [(f.record_id, f.field, f.category, f.severity, f.scanner) for f in sc.scan_batch(recs, [t for r in recs for t in
                                                                                                    (r.prompt, r.output, "")], None)]
    assert found == [("a", "output", "harassment_defamation", 4, "profanity_check")]
    f = sc.scan(recs[0])[0]
    assert f.score >= 0.9 and f.scanner_version and f.matched == recs[0].output


def test_profanity_check_options_and_the_missing_extra(policy, monkeypatch):
    from review import plugins

    plugins.register()
    with pytest.raises(ScannerConfigError, match=r"scanners\[0\] \(profanity_check\): category 'nope' is not one of the pack's"):
        build([Use("profanity_check", category="nope")], ctx(policy))
    monkeypatch.setitem(sys.modules, "profanity_check", None)  # as if the extra were not installed
    with pytest.raises(ScannerConfigError, match=r"needs its model package: pip install 'ethics-review\[profanity\]'"):
        build([Use("profanity_check")], ctx(policy))
