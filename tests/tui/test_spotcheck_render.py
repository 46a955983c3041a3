"""Plain unit tests of the new screens' pure renderers (no app, no database)."""

from __future__ import annotations

from types import SimpleNamespace as NS

from tui.widgets.followups.render import derive_finding
from tui.widgets.spotcheck.render import highlight, severity_style

Q = [{"text": "Risk triggered?", "adverse": "yes", "reopen_at": "INITIATION"},
     {"text": "Controls still working?", "adverse": "no", "reopen_at": "DEVELOPMENT"}]


def test_finding_is_derived_like_the_service():
    assert derive_finding(Q, {"q1": "no"}, []) is None  # unanswered
    assert derive_finding(Q, {"q1": "no", "q2": "yes"}, []) == "none"
    assert derive_finding(Q, {"q1": "yes", "q2": "no"}, ["HR-02"]) == "new_risk"
    assert derive_finding(Q, {"q1": "no", "q2": "no"}, ["HR-02"]) == "failed_control"
    assert derive_finding(["a plain old question"], {"q1": "yes"}, []) == "new_risk"  # old rows: adverse yes, INITIATION


def test_spans_are_styled_by_severity_most_severe_wins():
    text = "buy a pipe bomb now"
    spans = [NS(start=0, end=len(text), severity=3, scanner="classifier_nb"), NS(start=6, end=15, severity=6, scanner="keyword"),
             NS(start=11, end=99, severity=2, scanner="keyword")]  # out of range: clipped
    t = highlight(text, spans)
    assert t.plain == text
    styles = {(s.start, s.end): str(s.style) for s in t.spans}
    assert styles[(0, len(text))] == severity_style(3, "classifier_nb") == "underline yellow"
    assert styles[(6, 15)] == severity_style(6) and styles[(11, len(text))] == severity_style(2)
    assert [str(s.style) for s in t.spans][-1] == severity_style(6)  # applied last: on top where spans overlap
    assert highlight("", []).plain == "(empty)"
