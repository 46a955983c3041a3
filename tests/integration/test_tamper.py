"""A record nobody can quietly rewrite: tampering directly in SQL, on SQLite and PostgreSQL.

The attacker here can write the database as its owner (the append-only triggers are switched
off first, as an owner can) but does not hold the server's audit key file, except in the
last case, where only a checkpoint kept outside the database still catches the rewrite.
Every method must be detected by ``verify`` (or by ``verify`` with a checkpoint), and the
report must say what happened in words.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa

from review.demo.seed import seed_people
from review.services import audit, checkpoints, content_labels, feedback, followups, reviews
from review.services.audit import at_text, canonical, row_hash_v2
from review.store.db import Database
from review.store.models import AuditHead, AuditLog
from tests.integration.followup_helpers import approve, released, submit
from tests.tui.conftest import make_audit_run


def build_world(db: Database, tmp) -> dict[str, int]:
    """Every state table holds rows written through the services (so every row is logged)."""
    seed_people(db)
    rid = released(db, "Remote-sensing platform", tmp)  # reviews, assessments, controls, evidence, decisions, a follow-up
    high = submit(db, "Medical LLM assistant")
    reviews.assign(db, high, "amara.okafor", actor="wei.chen")
    fb = feedback.submit_feedback(db, "Remote-sensing platform", "It labelled a protected forest as farmland twice.")
    feedback.triage(db, fb.id, "credible", actor="priya.nair", rationale="reproduced with the reporter's tile")
    check = next(c for c in followups.list_checks(db, which="due") if c["kind"] == "adhoc")
    visit = followups.show_check(db, check["id"])["visits"][0]
    followups.record_visit(db, check["id"], visit["customer"], {"answers": {"q1": "no", "q2": "no", "q3": "yes"}, "finding": "none",
                                                                 "notes": "no issue"}, actor="priya.nair")
    copilot = submit(db, "Customer-service copilot")
    approve(db, copilot, "lucas.martin")
    run = make_audit_run(db, tmp / "chat.jsonl")
    content_labels.label_item(db, run, 1, "amara.okafor", "pass")
    return {"released": rid, "high": high, "feedback": fb.id, "check": check["id"], "run": run}


@contextlib.contextmanager
def as_owner(db: Database) -> Iterator[sa.Connection]:
    """A connection that can change anything, as the database owner can (triggers off)."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='trigger'")]
            sql = {n: conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name=?", (n,)).scalar() for n in names}
            for n in names:
                conn.exec_driver_sql(f"DROP TRIGGER {n}")
            yield conn
            for n in names:
                conn.exec_driver_sql(sql[n])
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn


def _rows(conn: sa.Connection) -> list[dict[str, Any]]:
    c = AuditLog.__table__.c
    return [dict(r._mapping) for r in conn.execute(sa.select(*audit.walk_columns()).order_by(c.id))]


def _rechain(conn: sa.Connection, rows: list[dict[str, Any]], start: int, *, key: Any = None) -> None:
    """Recompute every hash from ``start`` on, as an attacker who read the code would (MACs only with the stolen key)."""
    prev = rows[start - 2]["hash"] if start > 1 else audit.GENESIS
    for r in rows[start - 1:]:
        h = row_hash_v2(prev, r["id"], at_text(r["at"]), r["actor"], r["action"], r["entity"], r["entity_id"], r["before"], r["after"],
                        r["policy_version"], r["state"], r["state_keys"])
        values = {"prev_hash": prev, "hash": h, "actor": r["actor"], "at": r["at"]}
        if key is not None:
            values["mac"] = key.mac(h)
        conn.execute(sa.update(AuditLog).where(AuditLog.id == r["id"]).values(**values))
        prev = h
    conn.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(last_id=rows[-1]["id"], last_hash=prev))


def _sql(db: Database, statement: str, **params: Any) -> None:
    with as_owner(db) as conn:
        conn.execute(sa.text(statement), params)


# ---- the methods ---------------------------------------------------------------------------------
def t_edit_actor(db, ids):
    _sql(db, "UPDATE audit_log SET actor = 'mallory' WHERE id = 5")


def t_edit_rationale_in_log(db, ids):
    with as_owner(db) as conn:
        rid = conn.execute(sa.select(AuditLog.id).where(AuditLog.action == "decide:approve").limit(1)).scalar()
        after = conn.execute(sa.select(AuditLog.after).where(AuditLog.id == rid)).scalar()
        conn.execute(sa.update(AuditLog).where(AuditLog.id == rid).values(after={**after, "rationale": "rubber stamp"}))


def t_delete_middle_row(db, ids):
    _sql(db, "DELETE FROM audit_log WHERE id = 7")


def t_delete_last_row(db, ids):
    _sql(db, "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")


def t_cut_tail_and_move_head(db, ids):
    with as_owner(db) as conn:
        rows = _rows(conn)
        keep = rows[:-3]
        conn.execute(sa.delete(AuditLog).where(AuditLog.id > keep[-1]["id"]))
        conn.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(last_id=keep[-1]["id"], last_hash=keep[-1]["hash"]))


def t_swap_rows(db, ids):
    with as_owner(db) as conn:
        cols = ["at", "actor", "action", "entity", "entity_id", "before", "after", "policy_version", "prev_hash", "hash", "state",
                "state_keys", "mac"]
        get = lambda i: conn.execute(sa.select(*[AuditLog.__table__.c[c] for c in cols]).where(AuditLog.id == i)).one()._asdict()
        r6, r7 = get(6), get(7)
        conn.execute(sa.update(AuditLog).where(AuditLog.id == 6).values(**r7))
        conn.execute(sa.update(AuditLog).where(AuditLog.id == 7).values(**r6))


def t_rewrite_and_recompute_the_chain(db, ids):
    with as_owner(db) as conn:
        rows = _rows(conn)
        rows[4]["actor"] = "mallory"
        _rechain(conn, rows, 5)


def t_append_forged_row(db, ids):
    with as_owner(db) as conn:
        rows = _rows(conn)
        last = rows[-1]
        new = dict(last, id=last["id"] + 1, actor="wei.chen", action="decide:approve", entity="review", entity_id=str(ids["high"]),
                   before=None, after=canonical({"rationale": "approved by the chair"}), state=None, state_keys=None, mac=None)
        new["prev_hash"] = last["hash"]
        new["hash"] = row_hash_v2(last["hash"], new["id"], at_text(new["at"]), new["actor"], new["action"], new["entity"], new["entity_id"],
                                  None, new["after"], None, None, None)
        conn.execute(sa.insert(AuditLog).values(id=new["id"], at=new["at"], actor=new["actor"], action=new["action"], entity=new["entity"],
                                                entity_id=new["entity_id"], after=json.loads(new["after"]), prev_hash=new["prev_hash"],
                                                hash=new["hash"], fmt=2))
        conn.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(last_id=new["id"], last_hash=new["hash"]))


def t_backdate(db, ids):
    from datetime import timedelta

    with as_owner(db) as conn:
        rows = _rows(conn)
        rows[9]["at"] = rows[9]["at"] - timedelta(days=30)
        _rechain(conn, rows, 10)


def t_delete_every_audit_row(db, ids):
    _sql(db, "DELETE FROM audit_log")
    _sql(db, "DELETE FROM audit_head")


def t_edit_review_grade(db, ids):
    _sql(db, "UPDATE review SET grade = 'LOW' WHERE id = :id", id=ids["high"])


def t_edit_decision_rationale(db, ids):
    _sql(db, "UPDATE decision SET rationale = 'rubber stamp' WHERE id = 1")


def t_edit_control_status(db, ids):
    _sql(db, "UPDATE control_requirement SET status = 'VERIFIED' WHERE review_id = :id", id=ids["high"])


def t_delete_a_decision(db, ids):
    _sql(db, "DELETE FROM decision WHERE id = 1")


def t_insert_an_unlogged_decision(db, ids):
    _sql(db, "INSERT INTO decision (review_id, gate, action, rationale, actor, actor_roles, grade, pack_version, round, created_at) "
             "VALUES (:id, 'INITIATION', 'approve', 'sure', 'wei.chen', 'chair', 'HIGH', '1.0.0', 1, :now)", id=ids["high"],
         now=_now(db))


def t_edit_assessment(db, ids):
    _sql(db, "UPDATE assessment SET grade = 'LOW' WHERE review_id = :id", id=ids["high"])


def t_edit_evidence(db, ids):
    _sql(db, "UPDATE evidence SET sha256 = :h WHERE id = 1", h="0" * 64)


def t_edit_feedback(db, ids):
    _sql(db, "UPDATE feedback SET status = 'NOT_CREDIBLE' WHERE id = :id", id=ids["feedback"])


def t_edit_followup_visit(db, ids):
    _sql(db, "UPDATE followup_visit SET finding = 'new_risk' WHERE status = 'RECORDED'")


def t_edit_followup_check(db, ids):
    _sql(db, "UPDATE followup_check SET status = 'COMPLETED' WHERE id = :id", id=ids["check"])


def t_edit_audit_run(db, ids):
    _sql(db, "UPDATE audit_run SET flagged_records = 0 WHERE id = :id", id=ids["run"])


def t_edit_label(db, ids):
    _sql(db, "UPDATE spot_check_label SET verdict = 'violation' WHERE run_id = :id", id=ids["run"])


def t_grant_chair_role(db, ids):
    _sql(db, "UPDATE app_user SET roles = 'chair,reviewer' WHERE username = 'geo.lead'")


def t_edit_product_team(db, ids):
    _sql(db, "UPDATE product SET owner_team = 'ethics-committee' WHERE id = 1")


def t_delete_conflict_free_user(db, ids):
    _sql(db, "DELETE FROM app_user WHERE username = 'lucas.martin'")


def _now(db: Database) -> Any:
    from review.store.db import utcnow

    return utcnow()


METHODS: dict[str, tuple[Callable[..., None], set[str]]] = {
    "edit a log row's actor": (t_edit_actor, {"edited"}),
    "edit a decision's rationale in the log": (t_edit_rationale_in_log, {"edited"}),
    "delete a row in the middle": (t_delete_middle_row, {"deleted"}),
    "delete the last row": (t_delete_last_row, {"deleted"}),
    "cut the tail and move the head": (t_cut_tail_and_move_head, {"state", "unlogged", "missing"}),
    "swap two rows": (t_swap_rows, {"edited", "reordered"}),
    "rewrite a row and recompute the chain": (t_rewrite_and_recompute_the_chain, {"forged"}),
    "append a forged row": (t_append_forged_row, {"forged"}),
    "backdate a row and recompute": (t_backdate, {"forged", "backdated"}),
    "delete every audit row": (t_delete_every_audit_row, {"empty"}),
    "edit a review's grade": (t_edit_review_grade, {"state"}),
    "edit a decision's rationale": (t_edit_decision_rationale, {"state"}),
    "edit a control's status": (t_edit_control_status, {"state"}),
    "delete a decision": (t_delete_a_decision, {"missing"}),
    "insert an unlogged decision": (t_insert_an_unlogged_decision, {"unlogged"}),
    "edit an assessment": (t_edit_assessment, {"state"}),
    "edit evidence": (t_edit_evidence, {"state"}),
    "edit feedback": (t_edit_feedback, {"state"}),
    "edit a follow-up visit": (t_edit_followup_visit, {"state"}),
    "edit a follow-up check": (t_edit_followup_check, {"state"}),
    "edit an audit run": (t_edit_audit_run, {"state"}),
    "edit a spot-check label": (t_edit_label, {"state"}),
    "grant a submitter the chair role": (t_grant_chair_role, {"state"}),
    "move a product to another team": (t_edit_product_team, {"state"}),
    "delete a person": (t_delete_conflict_free_user, {"missing"}),
}


@pytest.fixture
def world(db: Database, tmp_path) -> tuple[Database, dict[str, int]]:
    return db, build_world(db, tmp_path)


def test_an_untouched_record_verifies(world) -> None:
    db, _ = world
    rep = audit.verify_chain(db)
    assert rep.ok, [p.detail for p in rep.problems]
    assert rep.rows > 40 and rep.state_rows > 50 and rep.macs_checked


@pytest.mark.parametrize("method", list(METHODS), ids=lambda m: m.replace(" ", "-"))
def test_tampering_is_detected(world, method: str) -> None:
    db, ids = world
    tamper, kinds = METHODS[method]
    tamper(db, ids)
    rep = audit.verify_chain(db)
    found = {p.kind for p in rep.problems}
    assert not rep.ok and found & kinds, (method, [(p.kind, p.detail) for p in rep.problems])


def test_a_state_edit_is_named_by_table_id_field_and_logged_value(world) -> None:
    db, ids = world
    t_edit_review_grade(db, ids)
    rep = audit.verify_chain(db)
    [p] = [p for p in rep.problems if p.kind == "state"]
    assert p.detail.startswith(f"review {ids['high']}: grade is LOW, the log says HIGH") and f"since row {p.row_id}" in p.detail


def test_a_stolen_key_does_not_rewrite_the_past_behind_a_checkpoint(world, tmp_path) -> None:
    """Someone with the database AND the key recomputes the whole chain with valid MACs: a checkpoint kept elsewhere still catches it."""
    from review.services.signing import load_key

    db, ids = world
    doc = checkpoints.create(db)
    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(doc))
    with as_owner(db) as conn:
        rows = _rows(conn)
        rows[2]["actor"] = "mallory"
        _rechain(conn, rows, 3, key=load_key(db.data_dir))
    assert audit.verify_chain(db).ok  # the chain and the MACs are consistent again
    rep = audit.verify_chain(db, checkpoints=[checkpoints.read_file(kept)])
    assert [p.kind for p in rep.problems] == ["checkpoint"] and "was rewritten" in rep.problems[0].detail


def test_the_audit_table_refuses_update_and_delete(world) -> None:
    db, _ = world
    checkpoints.create(db)
    for statement in ("UPDATE audit_log SET actor = 'mallory' WHERE id = 1", "DELETE FROM audit_log WHERE id = 1",
                      "UPDATE audit_checkpoint SET head_id = 1", "DELETE FROM audit_checkpoint"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(statement)
    assert audit.verify_chain(db).ok


def test_verifying_a_checkpoint_and_an_export_needs_only_the_public_key(world, tmp_path) -> None:
    from review.services.signing import load_key, public_pem, read_public_key

    db, _ = world
    doc = checkpoints.create(db)
    with_checkpoint = audit.verify_chain(db, checkpoints=[doc])
    assert with_checkpoint.ok and with_checkpoint.checkpoints
    out = tmp_path / "audit.jsonl"
    with out.open("w", encoding="utf-8") as f:
        n = checkpoints.export(db, f, actor="admin")
    pub = read_public_key(public_pem(load_key(db.data_dir).public), where="pub")
    rep, notes = checkpoints.verify_export(out, public_key=pub)
    assert rep.ok and rep.rows == n and rep.checkpoints
    lines = out.read_text().splitlines()
    doctored = json.loads(lines[3])
    doctored["row"]["actor"] = "mallory"
    lines[3] = json.dumps(doctored)
    out.write_text("\n".join(lines) + "\n")
    rep, _ = checkpoints.verify_export(out, public_key=pub)
    assert not rep.ok and {"edited", "checkpoint"} <= {p.kind for p in rep.problems}
    # a checkpoint signed with another key is refused outright
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from review.errors import InvalidInput

    with pytest.raises(InvalidInput, match="signed by key"):
        checkpoints.verify_export(out, public_key=Ed25519PrivateKey.generate().public_key())


def test_the_hourly_checkpoint_adds_no_row_while_the_head_stands_still(db: Database) -> None:
    from review.client.local import LocalClient
    from review.store.models import AuditCheckpoint

    seed_people(db)
    first = checkpoints.create(db, if_changed=True)
    again = checkpoints.create(db, if_changed=True)
    assert again["unchanged"] and again["head_id"] == first["head_id"] and again["signature"] == first["signature"]
    submit(db, "Code assistant")
    moved = checkpoints.create(db, if_changed=True)
    assert moved["head_id"] > first["head_id"] and "unchanged" not in moved
    with db.reading() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(AuditCheckpoint)).scalar_one() == 2
    assert LocalClient(db, "admin").audit_public_key().startswith("-----BEGIN PUBLIC KEY-----")


def test_reading_the_public_key_never_makes_one(tmp_path) -> None:
    from review.client.local import LocalClient
    from review.errors import NotFound

    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}", data_dir=tmp_path / "home")
    empty.upgrade()
    with pytest.raises(NotFound, match="no audit signing key yet"):
        LocalClient(empty, "admin").audit_public_key()
    assert not list((tmp_path / "home").glob("audit-signing*"))
    empty.dispose()
