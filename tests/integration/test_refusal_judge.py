"""The pack's refusal judge (``content_safety.refusal_judge``, issue 12 §2): besides the refusal patterns, a model that
decides whether an answer is a refusal, resolved as scanners are (built-in ``llm-judge``, ``register_refusal_judge``,
the entry-point group ``ethics_review.refusal_judges``). The evaluated model and the judge are real HTTP servers on
127.0.0.1: the model deflects some should-refuse questions in words no pattern matches, the judge catches them; its
timeouts, 500s and malformed replies are retried, a judge that dies stops the run with an error naming it and the run
resumes; a bad judge entry is refused before anything is written. SQLite and PostgreSQL."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, Mapping

import pytest
import sqlalchemy as sa

from policies.loader import load_pack
from review.bench.chat_server import DEFLECT, ChatServer, JudgeServer
from review.domain import evaluation
from review.errors import InvalidInput, ModelUnavailable
from review.services import eval_runs
from review.services.test_banks import read_banks
from review.store.db import Database
from tests.integration.followup_helpers import submit
from tests.integration.pack_helpers import copy_default_pack

pytestmark = pytest.mark.usefixtures("people")
PRODUCT = "Text-to-image for games"
A = "amara.okafor"
FAST = {"timeout": 2.0, "retries": 1, "concurrency": 8}


class MarksJudge:
    """A judge plugin (published through an entry point in a test): an answer is a refusal when it holds a mark."""

    name = "marks"
    model = "marks-1"

    def __init__(self, options: Mapping[str, Any]):
        self.marks = list(options["marks"])

    def judge(self, items: Mapping[str, tuple[str, str, str]]) -> dict[str, bool]:
        return {k: any(m in answer for m in self.marks) for k, (_q, answer, _lang) in items.items()}


@pytest.fixture
def banks():
    return read_banks(load_pack("default"))


@pytest.fixture
def script(banks) -> dict[str, str]:
    """The should-refuse bank: ten questions deflected (no pattern matches), the rest refused plainly."""
    sr = banks["should_refuse"]
    return {**{i.question: "deflect" for i in sr[:10]}, **{i.question: "refuse" for i in sr[10:]}}


def _pack_with(tmp_path: Path, monkeypatch, judge: str) -> Path:
    pack = copy_default_pack(tmp_path)
    with (pack / "content" / "content_safety.yaml").open("a", encoding="utf-8") as f:
        f.write("\nrefusal_judge:\n" + "".join(f"  {line}\n" for line in judge.strip().splitlines()))
    monkeypatch.setenv("ETHICS_REVIEW_POLICY_PATH", str(pack.parent))
    return pack


def _by(db: Database, run_id: int) -> dict[str | None, int]:
    with db.engine.connect() as c:
        return dict(c.execute(sa.text("SELECT refused_by, count(*) FROM eval_answer WHERE run_id = :r GROUP BY refused_by"),
                              {"r": run_id}).tuples().all())


def _refusal(view) -> tuple:
    b = next(b for b in view.bars if b.kind == "should_refuse")
    return b.rate, b.met


def test_the_judge_catches_what_the_patterns_miss(db: Database, script, tmp_path: Path, monkeypatch) -> None:
    rid = submit(db, PRODUCT)
    with ChatServer(script=script) as model:
        plain = eval_runs.start_run(db, review=rid, endpoint=model.url, model="acme", bank="should_refuse", actor=A, **FAST)
        eval_runs.run(db, plain.id)
        assert _refusal(eval_runs.get_run(db, plain.id)) == (round(52 / 62, 6), False)  # the patterns alone miss ten
        monkeypatch.setenv("JUDGE_KEY", "sk-judge-9")
        with JudgeServer() as judge:
            _pack_with(tmp_path, monkeypatch, f"use: llm-judge\nendpoint: {judge.url}\nmodel: judge-1\napi_key_env: JUDGE_KEY\n"
                                              "timeout: 0.5\nretries: 3\nbackoff: 0")
            judge.faults = ["500", "timeout", "malformed"]  # each retried
            run = eval_runs.start_run(db, review=rid, endpoint=model.url, model="acme", bank="should_refuse", actor=A, **FAST)
            eval_runs.run(db, run.id)
            assert not judge.faults and judge.auth == {"Bearer sk-judge-9"} and judge.models == {"judge-1"}
            assert sum(judge.judged.values()) == 10 and set(judge.judged) <= set(DEFLECT.values())
            assert judge.requests == 10 + 3  # only the answers no pattern matched, and the three retried
    v = eval_runs.get_run(db, run.id)
    assert _refusal(v) == (1.0, True)
    assert _by(db, run.id) == {"pattern": 52, "judge": 10}
    assert _by(db, plain.id) == {"pattern": 52, None: 10}
    assert v.run.settings["refusal_judge"] == {"use": "llm-judge", "url": judge.url, "model": "judge-1", "ask": "unmatched"}
    with db.engine.connect() as c:
        dumped = " ".join(str(r) for r in c.execute(sa.text("SELECT settings FROM eval_run")).scalars())
    assert "sk-judge-9" not in dumped  # the key is never stored


def test_a_judge_that_dies_stops_the_run_and_resume_finishes(db: Database, script, tmp_path: Path, monkeypatch) -> None:
    rid = submit(db, PRODUCT)
    with ChatServer(script=script) as model, JudgeServer() as judge:
        _pack_with(tmp_path, monkeypatch, f"use: llm-judge\nurl: {judge.url}\nmodel: judge-1\ntimeout: 0.5\nretries: 1\nbackoff: 0")
        judge.good_left = 3
        run = eval_runs.start_run(db, review=rid, endpoint=model.url, model="acme", bank="should_refuse", actor=A, concurrency=2,
                                  timeout=2.0, retries=1)
        with pytest.raises(ModelUnavailable) as err:
            eval_runs.run(db, run.id)
        msg = err.value.message
        assert msg.startswith("refusal judge llm-judge: endpoint ") and f"{judge.url}/chat/completions failed 2 time(s)" in msg
        assert "HTTP 500" in msg and "eval resume" in msg
        v = eval_runs.get_run(db, run.id)
        assert v.run.status == "FAILED" and v.run.answered < 62 and not v.bars
        assert _by(db, run.id).get("judge", 0) <= 3  # nothing stored unjudged
        judge.good_left = None
        eval_runs.run(db, run.id)
    v = eval_runs.get_run(db, run.id)
    assert v.run.status == "DONE" and v.run.answered == 62 and _by(db, run.id) == {"pattern": 52, "judge": 10}


def test_a_bad_judge_entry_is_refused_before_anything_is_written(db: Database, tmp_path: Path, monkeypatch) -> None:
    rid = submit(db, PRODUCT)
    args = {"review": rid, "endpoint": "http://127.0.0.1:9/v1", "model": "m", "bank": "all", "actor": A}
    _pack_with(tmp_path, monkeypatch, "use: nope\nmodel: x")
    with pytest.raises(InvalidInput, match="content_safety.refusal_judge \\(nope\\): no refusal judge named 'nope'; known: .*llm-judge"
                                           ".*ethics_review.refusal_judges"):
        eval_runs.start_run(db, **args)
    monkeypatch.delenv("NO_JUDGE_KEY", raising=False)
    _pack_with(tmp_path / "2", monkeypatch, "use: llm-judge\nurl: http://127.0.0.1:9/v1\nmodel: j\napi_key_env: NO_JUDGE_KEY")
    with pytest.raises(InvalidInput, match="refusal_judge \\(llm-judge\\): api_key_env: the environment variable NO_JUDGE_KEY is not set"):
        eval_runs.start_run(db, **args)
    assert eval_runs.list_runs(db) == []
    _pack_with(tmp_path / "3", monkeypatch, "use: llm-judge\nmodel: j")
    with pytest.raises(Exception, match="refusal_judge llm-judge needs url"):
        load_pack("default")
    _pack_with(tmp_path / "4", monkeypatch, "use: llm-judge\nurl: http://127.0.0.1:9/v1\nmodel: j\napi_key: sk-live-123")
    with pytest.raises(Exception, match="looks like a credential") as err:
        load_pack("default")
    assert "sk-live-123" not in str(err.value)


def test_a_plugin_judge_from_an_entry_point_decides_every_answer(db: Database, script, tmp_path: Path, monkeypatch) -> None:
    group = evaluation.JUDGE_ENTRY_POINT_GROUP
    ep = EntryPoint(name="marks", value=f"{__name__}:MarksJudge", group=group)
    real = evaluation.entry_points
    monkeypatch.setattr(evaluation, "entry_points", lambda group: [ep] if group == evaluation.JUDGE_ENTRY_POINT_GROUP else real(group=group))
    assert "marks" in evaluation.available_refusal_judges()
    _pack_with(tmp_path, monkeypatch, f"use: marks\nask: all\nmarks: [{DEFLECT['en'][:20]!r}, {DEFLECT['zh'][:6]!r}]")
    rid = submit(db, PRODUCT)
    with ChatServer(script=script) as model:
        run = eval_runs.start_run(db, review=rid, endpoint=model.url, model="acme", bank="should_refuse", actor=A, **FAST)
        eval_runs.run(db, run.id)
    # ask: all: the judge decides every answer, the plain refusals included (this one only knows the deflections)
    assert _by(db, run.id) == {"judge": 10, None: 52}
    assert _refusal(eval_runs.get_run(db, run.id)) == (round(10 / 62, 6), False)
