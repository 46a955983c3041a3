"""A review graded under a pack with level labels is shown as the pack names the grade, on every surface: the list
(table and JSON), the dashboard's counts, the dossier, the process report and ``policy preview``; the internal grade
stays in JSON beside ``grade_label``. Default-pack reviews read as before. Migration 0012 fills the label of the
reviews already there, and ``init`` re-images them in the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
import yaml

from policies.loader import load_pack
from review.cli.main import main
from review.demo.catalog import TEAM_SUBMITTERS
from review.demo.seed import CHAIR
from review.services import dashboard, dossier, gates, process_report, reviews
from review.services.audit import verify_chain
from review.services.queries import level_distribution, list_reviews, show_review
from review.services.replay import preview_pack
from review.store.db import Database
from tests.integration.followup_helpers import submit
from tests.integration.test_aia_submission import TEAM, _very_high_impact

LEVEL_IV = "Level IV (very high impact)"


def aia_template(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["--as", "admin", "policy", "template", "canada-aia"]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def submit_level_iv(db: Database, template: dict[str, Any], name: str = "Benefit eligibility triage") -> int:
    doc = _very_high_impact(template)
    doc["product"].update(name=name, owner_team=TEAM)
    return reviews.submit(db, doc, actor=TEAM_SUBMITTERS[TEAM]).id


def cli(db: Database, capsys: pytest.CaptureFixture[str], *args: str, user: str = CHAIR) -> str:
    code = main(["--database", db.url, "--as", user, *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


@pytest.mark.usefixtures("people")
def test_every_surface_names_the_grade_as_the_pack_does(db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    aia = submit_level_iv(db, aia_template(capsys))
    default = submit(db, "Remote-sensing platform")

    step = gates.initiation_step(db, aia)  # what submit prints, and the committee's notification
    assert f"grade {LEVEL_IV} (UNACCEPTABLE), priority" in step.message and step.details["grade_label"] == LEVEL_IV
    assert f"grade {gates.initiation_step(db, default).details['grade']}, priority" in gates.initiation_step(db, default).message
    rows = {r.id: r for r in list_reviews(db).rows}
    assert (rows[aia].grade, rows[aia].grade_label) == ("UNACCEPTABLE", LEVEL_IV)
    assert rows[default].grade_label == rows[default].grade  # the default pack names its grades by themselves

    listed = {r["id"]: r for r in json.loads(cli(db, capsys, "--json", "list"))["reviews"]}
    assert listed[aia]["grade"] == "UNACCEPTABLE" and listed[aia]["grade_label"] == LEVEL_IV
    assert listed[default]["grade_label"] == listed[default]["grade"]
    table = cli(db, capsys, "list")
    aia_line = next(line for line in table.splitlines() if "Benefit eligibility" in line)
    assert "Level IV" in aia_line and "UNACCEPTABLE" not in aia_line
    assert listed[default]["grade"] in next(line for line in table.splitlines() if "Remote-sensing" in line)
    assert json.loads(cli(db, capsys, "--json", "show", str(aia)))["review"]["grade_label"] == LEVEL_IV

    levels = level_distribution(db)
    assert {"grade": "UNACCEPTABLE", "label": LEVEL_IV, "count": 1} in levels
    assert {"grade": rows[default].grade, "label": rows[default].grade, "count": 1} in levels
    late = dashboard.overdue_counts(db, now=rows[aia].due_at.replace(year=rows[aia].due_at.year + 1))  # both past their SLA
    assert {"grade": "UNACCEPTABLE", "label": LEVEL_IV, "count": 1} in late["by_level"] and late["by_grade"]["UNACCEPTABLE"] == 1

    grade_row = next(line for line in dossier.render_markdown(dossier.dossier(db, aia)).splitlines() if line.startswith("| grade |"))
    assert "Level IV" in grade_row and "very high impact" in grade_row and "UNACCEPTABLE" in grade_row
    assert f"| grade | {rows[default].grade} |" in dossier.render_markdown(dossier.dossier(db, default))
    assert "Level IV" in dossier.render_html(dossier.dossier(db, aia))

    reviews.assign(db, aia, "priya.nair", actor=CHAIR)
    reviews.decide(db, aia, "reject", actor="priya.nair", rationale="not now")
    now = rows[aia].updated_at
    rep = process_report.process_report(db, now.replace(year=now.year - 1), now.replace(year=now.year + 1), actor=CHAIR)
    mechanism = next(d for d in rep.dimensions if d.key == "mechanism_guarantee")
    outcomes = next(rows_ for title, _cols, rows_ in mechanism.tables if title == "Outcomes by grade")
    assert [r[0] for r in outcomes] == [f"{LEVEL_IV} (UNACCEPTABLE)"]

    raw = yaml.safe_load(Path(load_pack("canada-aia").path).read_text())
    raw["questions"].append({"id": "extra_risk", "text": "A new, optional risk question?", "optional": True,
                             "options": [{"id": "yes", "label": "Yes", "scores": {"impact": 90}}, {"id": "no", "label": "No"}]})
    (tmp_path / "candidate").mkdir()
    (tmp_path / "candidate" / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    _examined, changes = preview_pack(db, str(tmp_path / "candidate"))
    assert [(c.stored_label, c.candidate_label) for c in changes] == [(LEVEL_IV, "Level III (high impact)")]
    assert changes[0].detail == f"{LEVEL_IV} (UNACCEPTABLE) -> Level III (high impact) (HIGH)"
    shown = json.loads(cli(db, capsys, "--json", "policy", "preview", str(tmp_path / "candidate")))
    assert shown["changes"][0]["stored_grade"] == "UNACCEPTABLE" and shown["changes"][0]["stored_label"] == LEVEL_IV
    assert "Level III (high" in cli(db, capsys, "policy", "preview", str(tmp_path / "candidate"))


@pytest.mark.usefixtures("people")
def test_an_override_keeps_the_label_with_the_grade(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    rid = submit_level_iv(db, aia_template(capsys))
    reviews.override_grade(db, rid, "HIGH", actor=CHAIR, rationale="the scope is narrower than the answers say")
    reviews.override_grade(db, rid, "HIGH", actor="admin", rationale="second signature")
    row = next(r for r in list_reviews(db).rows if r.id == rid)
    assert (row.grade, row.grade_label) == ("HIGH", "Level III (high impact)")
    assert show_review(db, rid).review["grade_label"] == "Level III (high impact)"
    assert verify_chain(db).ok


# ---- migration 0012 -------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database at 0011, before reviews kept their grade's label."""
    yield from _database_at(request.param, tmp_path, "0011_eval")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database at 0007, before assessments kept their warnings (0008)."""
    yield from _database_at(request.param, tmp_path, "0007_chunk_keys")


def _database_at(kind: str, tmp_path: Path, revision: str) -> Iterator[Database]:
    from alembic import command

    from review.store.migrate import alembic_config
    from tests.conftest import PG_URL, _pg_url

    schema = None
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.db'}", data_dir=tmp_path)
    else:
        schema = f"er_mig_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        db = Database(_pg_url(schema), data_dir=tmp_path)
    cfg = alembic_config(db)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
    yield db
    db.dispose()
    if schema:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def _as_of_0011(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the audit log image the tables as the code of the database's revision did: the table definitions reflected from the database."""
    from review.services import audit

    present = set(sa.inspect(db.engine).get_table_names())
    tables = [t for t in audit.STATE_TABLES if t in present]  # a later migration's state tables are not there yet
    meta = sa.MetaData()
    meta.reflect(db.engine, only=tables)
    monkeypatch.setattr(audit, "_tables", lambda: {t: meta.tables[t] for t in tables})


def test_migration_0012_labels_the_reviews_there_and_init_reimages_them(old_db: Database, monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Reviews written at 0011 (raw rows, logged with 0011's images), one of them changed behind the application's
    back: after ``init`` the labels come from each pack's stored snapshot, the untouched reviews verify, the
    tampered one is still named."""
    from policies.loader import pack_snapshot
    from review.services import audit
    from review.store.db import utcnow

    db = old_db
    with monkeypatch.context() as m:
        _as_of_0011(db, m)
        t = audit._tables()
        now = utcnow()
        aia, default = load_pack("canada-aia"), load_pack("default")
        with db.transaction() as s:
            snap = sa.table("policy_snapshot", sa.column("content_hash"), sa.column("pack_id"), sa.column("version"), sa.column("body"),
                            sa.column("created_at"))
            for lp in (aia, default):
                s.execute(sa.insert(snap).values(content_hash=lp.content_hash, pack_id=lp.id, version=lp.version,
                                                 body=json.dumps(pack_snapshot(lp)), created_at=now))
            ids = []
            for n, (lp, grade) in enumerate([(aia, "UNACCEPTABLE"), (aia, "MEDIUM"), (default, "HIGH"), (aia, "HIGH")]):
                pid = s.execute(sa.insert(t["product"]).values(
                    name=f"Old product {n}", owner_team=TEAM, business_line="b", description="", profile={}, policy_id=lp.id,
                    created_by="admin", created_at=now).returning(t["product"].c.id)).scalar_one()
                ids.append(s.execute(sa.insert(t["review"]).values(
                    product_id=pid, gate="INITIATION", status="SUBMITTED", grade=grade, submitted_by="admin", policy_id=lp.id,
                    policy_version=lp.version, priority=0, round=1, version=1, created_at=now, updated_at=now)
                    .returning(t["review"].c.id)).scalar_one())
                audit.touch(s, "product", [pid])
                audit.touch(s, "review", [ids[-1]])
            audit.record(s, actor="admin", action="submit", entity="state", entity_id="-")
        assert verify_chain(db).ok
        with db.engine.begin() as conn:  # behind the application's back
            conn.execute(sa.update(t["review"]).where(t["review"].c.id == ids[3]).values(grade="LOW"))
    audit._text_select.cache_clear()

    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(db.data_dir))  # the CLI signs with the same audit key
    assert main(["--database", db.url, "--json", "init"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["state_rows_reimaged"] == 3 and out["revision"] and all(r >= "0012" for r in out["revision"])  # at or past 0012
    with db.reading() as s:
        labels = dict(s.execute(sa.text("SELECT id, grade_label FROM review")).tuples().all())
    assert labels == {ids[0]: LEVEL_IV, ids[1]: "Level II (moderate impact)", ids[2]: "HIGH", ids[3]: "Level I (little to no impact)"}
    problems = verify_chain(db).problems
    assert [(p.kind, p.detail.split(":")[0]) for p in problems] == [("state", f"review {ids[3]}")], problems
    assert "grade is LOW, the log says HIGH" in problems[0].detail, problems[0].detail

    assert main(["--database", db.url, "--json", "init"]) == 0  # a second init adopts nothing
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["state_rows_reimaged"] == 0


def test_init_reimages_the_assessments_migration_0008_gave_warnings(db_at_0007: Database, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """0008 added ``assessment.warnings`` (NULL for the rows there): the log's 0007 images lack it, so without a
    re-image every older assessment read as changed behind the application's back."""
    from review.services import audit
    from review.store.db import utcnow

    db = db_at_0007
    with monkeypatch.context() as m:
        _as_of_0011(db, m)
        t = audit._tables()
        now = utcnow()
        with db.transaction() as s:
            pid = s.execute(sa.insert(t["product"]).values(
                name="Old product", owner_team=TEAM, business_line="b", description="", profile={}, policy_id="default",
                created_by="admin", created_at=now).returning(t["product"].c.id)).scalar_one()
            rid = s.execute(sa.insert(t["review"]).values(**{k: v for k, v in dict(
                product_id=pid, gate="INITIATION", status="SUBMITTED", grade="HIGH", submitted_by="admin", policy_id="default",
                policy_version="1.0.0", priority=0, round=1, version=1, created_at=now, updated_at=now).items() if k in t["review"].c})
                .returning(t["review"].c.id)).scalar_one()
            aids = [s.execute(sa.insert(t["assessment"]).values(
                review_id=rid, gate="INITIATION", kind="initiation", pack_id="default", pack_version="1.0.0", pack_hash="h" * 64,
                answers={}, dimension_scores={}, dimension_levels={}, base_grade=g, grade=g, triggers_fired=[], mitigation={},
                created_by="admin", created_at=now).returning(t["assessment"].c.id)).scalar_one() for g in ("HIGH", "LOW")]
            audit.touch(s, "product", [pid])
            audit.touch(s, "review", [rid])
            audit.touch(s, "assessment", aids)
            audit.record(s, actor="admin", action="submit", entity="state", entity_id="-")
        assert verify_chain(db).ok
        with db.engine.begin() as conn:  # behind the application's back
            conn.execute(sa.update(t["assessment"]).where(t["assessment"].c.id == aids[1]).values(grade="MEDIUM"))
    audit._text_select.cache_clear()

    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(db.data_dir))
    assert main(["--database", db.url, "--json", "init"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["state_rows_reimaged"] == 2  # the untouched assessment and (0012) the review; never the changed one
    problems = verify_chain(db).problems
    assert [(p.kind, p.detail.split(":")[0]) for p in problems] == [("state", f"assessment {aids[1]}")], problems
