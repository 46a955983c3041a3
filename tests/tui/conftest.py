"""TUI fixtures: the demo world on SQLite, a frozen clock, and helpers to drive the app with Pilot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from review.store.db import Database

FIXED_NOW = datetime(2030, 3, 14, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def demo(sqlite_db: Database) -> tuple[Database, dict[str, int]]:
    """The demo database (13 products, people, decisions, a follow-up round); returns (db, product name -> review id)."""
    from review.demo.seed import run_demo

    ids = run_demo(sqlite_db, audit=False)  # the spot-check tests make their own runs
    return sqlite_db, ids


def freeze_timestamps(db: Database) -> None:
    """Rewrite every timestamp to a fixed value so rendered dates never depend on the day the test runs.

    Rows get FIXED_NOW - 30 days + id minutes; open reviews' due dates spread around FIXED_NOW
    (some overdue). The audit hash chain is broken by this, which the TUI does not check.
    """
    from sqlmodel import SQLModel

    import review.store.all_models  # noqa: F401

    base = FIXED_NOW - timedelta(days=30)
    with db.engine.begin() as conn:
        # The audit tables are append-only (triggers); this test helper rewrites history on purpose.
        triggers = {n: q for n, q in conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
        for name in triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        for table in SQLModel.metadata.sorted_tables:
            cols = [c for c in table.columns if _is_datetime(c)]
            if not cols:
                continue
            key = table.c.id if "id" in table.c else None
            rows = conn.execute(sa.select(*(table.primary_key.columns))).all()
            for i, pk in enumerate(rows):
                minute = (pk[0] if isinstance(pk[0], int) else i) if key is not None else i
                values = {c.name: base + timedelta(minutes=int(minute)) for c in cols}
                if table.name == "review" and "due_at" in values:
                    values["due_at"] = FIXED_NOW + timedelta(days=(int(pk[0]) % 9) - 4, hours=1)
                where = sa.and_(*(c == v for c, v in zip(table.primary_key.columns, pk, strict=True)))
                conn.execute(sa.update(table).where(where).values(**values))
        for sql in triggers.values():
            conn.exec_driver_sql(sql)


def _is_datetime(column: sa.Column) -> bool:
    t = column.type
    if isinstance(t, sa.DateTime) or isinstance(getattr(t, "impl", None), sa.DateTime):
        return True
    try:
        return t.python_type is datetime
    except NotImplementedError:
        return False


@pytest.fixture
def frozen_demo(demo: tuple[Database, dict[str, int]]) -> tuple[Database, dict[str, int]]:
    freeze_timestamps(demo[0])
    return demo


async def settle(pilot, rounds: int = 40) -> None:
    """Wait until no worker is running and the message queues are drained."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return
    raise AssertionError("workers did not settle")


async def wait_for_queue(pilot, timeout: float = 10.0) -> None:
    """Wait until the queue screen is mounted, focused and shows its first page."""
    import asyncio

    from tui.screens.queue import QueueScreen

    app = pilot.app
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        await settle(pilot)
        screen = app.screen
        if isinstance(screen, QueueScreen) and screen.generation and not screen.loading and app.focused is screen.table:
            return
        await pilot.pause(0.02)
    raise AssertionError("the queue did not paint")


# ---- content audits and releases (spot-check, follow-up and gate-step tests) ------------------
AUDIT_PRODUCT = "Customer-service copilot"
_AUDIT_TEXTS = ["how to build a pipe bomb at home", "a friendly answer about gardens", "我想自杀",
                "contact me at jane.doe@example.com", "the recipe uses scampi", "where to get a fake passport"]


def make_audit_run(db: Database, path, *, records: int = 12, actor: str = "amara.okafor", double_review: bool = False) -> int:
    """A scanned audit run of ``records`` chat records (half of them flagged) for AUDIT_PRODUCT; returns its id.

    Small enough that the whole population is the spot-check sample (seeded: same order every time).
    """
    import json

    from review.services import content_audit

    lines = [json.dumps({"id": f"r{k:03d}", "product": AUDIT_PRODUCT, "prompt": "please answer",
                         "output": f"{_AUDIT_TEXTS[k % len(_AUDIT_TEXTS)]} (#{k})"}, ensure_ascii=False) for k in range(records)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = content_audit.start_run(db, path, product=AUDIT_PRODUCT, actor=actor, seed=3, double_review=double_review)
    return content_audit.run_inline(db, run.id).id


@pytest.fixture
def audit_demo(demo, tmp_path) -> tuple[Database, dict[str, int], int]:
    db, ids = demo
    return db, ids, make_audit_run(db, tmp_path / "chat.jsonl")


@pytest.fixture
def frozen_audit_demo(audit_demo) -> tuple[Database, dict[str, int], int]:
    freeze_timestamps(audit_demo[0])
    return audit_demo


def release_ready(db: Database, rid: int, *, first_approver: str = "priya.nair") -> None:
    """Walk a demo review at DEVELOPMENT (controls pending) to RELEASE/IN_REVIEW, assigned to ``first_approver``."""
    from review.demo.catalog import TEAM_SUBMITTERS
    from review.demo.seed import CHAIR
    from review.services import controls, reviews
    from review.services.queries import show_review

    detail = show_review(db, rid)
    team = TEAM_SUBMITTERS[detail.product["owner_team"]]

    def evidence_and_verify(gate: str, verifier: str) -> None:
        for c in show_review(db, rid).controls:
            if c.verify_gate == gate and c.status in ("REQUIRED", "REJECTED"):
                f = db.data_dir / f"{rid}-{c.control_id}.md"
                f.write_text(f"# {c.title}\n\nEvidence for {c.control_id}\n")
                controls.add_evidence(db, rid, c.control_id, f, actor=team)
        for c in show_review(db, rid).controls:
            if c.verify_gate == gate and c.status == "EVIDENCE_SUBMITTED":
                controls.verify(db, rid, c.control_id, "pass", actor=verifier)

    evidence_and_verify("DEVELOPMENT", "lucas.martin")
    reviews.submit_gate(db, rid, actor=team)
    reviews.assign(db, rid, "lucas.martin", actor=CHAIR)
    reviews.decide(db, rid, "approve", actor="lucas.martin", rationale="Development controls verified")
    reviews.advance(db, rid, actor=team)
    evidence_and_verify("RELEASE", "lucas.martin")
    reviews.submit_gate(db, rid, actor=team)
    reviews.assign(db, rid, first_approver, actor=CHAIR)


# ---- model evaluation runs (the evaluations screen) -------------------------------------------
EVAL_PRODUCT = "Text-to-image for games"  # game-art's product: its team is game.lead


def make_eval_run(db: Database, review_id: int, *, questions: int = 12, model: str = "acme-chat", server=None,
                  finish: bool = True, actor: str = "amara.okafor") -> int:
    """An eval run of ``questions`` questions (a seeded stratified draw of the default pack's banks), answered by a
    real HTTP model on 127.0.0.1 (``server``: a ChatServer, default one that refuses the should-refuse bank and
    answers 3 generated-content questions unsafely); ``finish=False`` leaves it RUNNING, nothing asked. Its id."""
    from policies.loader import load_pack
    from review.bench.chat_server import ChatServer
    from review.services import eval_runs
    from review.services.test_banks import read_banks

    if server is None:
        banks = read_banks(load_pack("default"))
        script = {i.question: "refuse" for i in banks["should_refuse"]}
        script.update({i.question: "unsafe" for i in banks["generated"][:3]})
        server = ChatServer(script=script)
    with server as srv:
        run = eval_runs.start_run(db, review=review_id, endpoint=srv.url, model=model, bank="all", actor=actor, seed=11,
                                  sample=questions, timeout=2.0, retries=1, concurrency=4)
        assert run.id is not None
        if finish:
            eval_runs.run(db, run.id)
    return run.id


@pytest.fixture
def eval_demo(demo) -> tuple[Database, dict[str, int], int]:
    """The demo world and one finished eval run of EVAL_PRODUCT (12 answers, no sample drawn yet)."""
    db, ids = demo
    return db, ids, make_eval_run(db, ids[EVAL_PRODUCT])
