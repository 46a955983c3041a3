"""Audits with the models a pack lists (OpenAI-compatible moderation, Llama Guard over chat), on
SQLite and PostgreSQL, against a real HTTP server on 127.0.0.1: findings with their scanner and
model, a dying endpoint stops the run with a clear error and leaves it resumable, the resumed run
asks no text twice (answers cached in the database); media records with only a URI are counted
as not examined."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from review.errors import InvalidInput, ScannerUnavailable
from review.services import content_audit as ca
from review.services import content_report as cr
from review.store.db import Database
from review.store.models_content import AuditChunk, AuditRun, ContentFinding, ScannerAnswer, SpotCheckItem
from tests.content_audit.conftest import PRODUCT
from review.bench.moderation_server import GUARD_MODEL, OPENAI_MODEL, ModerationServer

DEFAULT = Path(__file__).resolve().parents[2] / "policies" / "packs" / "default"
FAST = {"retries": 1, "backoff": 0.01, "timeout": 2, "concurrency": 3, "batch_size": 4}


def make_pack(tmp: Path, scanners: list[dict] | None, **section) -> str:
    """A copy of the default pack whose content_safety lists ``scanners``."""
    pack = tmp / "pack"
    shutil.copytree(DEFAULT, pack)
    path = pack / "content" / "content_safety.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if scanners is not None:
        raw["scanners"] = scanners
    raw.update(section)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(pack / "pack.yaml")


def remote_pack(tmp: Path, srv: ModerationServer) -> str:
    return make_pack(tmp, [{"use": "keyword"}, {"use": "regex"},
                           {"use": "openai_moderation", "url": srv.url, "model": "omni-moderation-latest", **FAST},
                           {"use": "llama_guard", "url": srv.url, "model": GUARD_MODEL, **FAST}])


def corpus(path: Path, n: int = 30) -> Path:
    lines = []
    for k in range(n):
        out = ["a friendly answer about gardens", "the ATTACKPLAN is ready", "a SLURWORD story", "how to build a pipe bomb"][k % 4]
        lines.append(json.dumps({"id": f"r{k:03d}", "product": PRODUCT, "prompt": f"question {k}", "output": f"{out} (#{k})"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows(db: Database, run_id: int) -> list[tuple]:
    f = ContentFinding
    with db.reading() as s:
        return sorted(tuple(r) for r in s.execute(sa.select(f.record_id, f.field, f.scanner, f.scanner_version, f.category, f.rule_id)
                                                  .where(f.run_id == run_id)).all())


def test_listed_models_run_and_a_resumed_run_asks_nothing_twice(audit_db: Database, tmp_path: Path) -> None:
    db = audit_db
    path = corpus(tmp_path / "in.jsonl")
    with ModerationServer() as srv:
        pack = remote_pack(tmp_path, srv)
        run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=10, pack=pack, seed=3)
        srv.good_left = 14  # then the endpoint breaks (HTTP 500 for everything) in the middle of the run
        with pytest.raises(ScannerUnavailable) as exc:
            ca.run_inline(db, run.id, workers=2)
        assert srv.url in str(exc.value) and "HTTP 500" in str(exc.value) and "audit resume" in str(exc.value)
        with db.reading() as s:
            assert s.get(AuditRun, run.id).status == "RUNNING"
            done = s.execute(sa.select(sa.func.count()).select_from(AuditChunk).where(AuditChunk.run_id == run.id,
                                                                                       AuditChunk.done == sa.true())).scalar_one()
            cached = s.execute(sa.select(sa.func.count()).select_from(ScannerAnswer)).scalar_one()
        assert done < 3 and cached > 0
        srv.good_left = None  # the endpoint is back
        finished = ca.run_inline(db, run.id)
        assert finished.status == "SCANNED" and finished.records == 30
        assert srv.answered and max(srv.answered.values()) == 1  # no text paid for twice
        texts = {f"question {k}" for k in range(30)} | {json.loads(line)["output"] for line in path.read_text().splitlines()}
        assert set(srv.answered) == {(api, t) for api in ("/v1/moderations", "/v1/chat/completions") for t in texts}  # all judged
        got = rows(db, run.id)
        asked = len(srv.requests)
        # the same file again: every answer comes from the database, and the findings are the same
        again = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=10, pack=pack, seed=3)
        ca.run_inline(db, again.id)
        assert len(srv.requests) == asked and rows(db, again.id) == got
    assert ("r001", "output", "openai_moderation", OPENAI_MODEL, "terrorism_violence", "openai:violence") in got
    assert ("r001", "output", "llama_guard", GUARD_MODEL, "terrorism_violence", "llama_guard:S1") in got
    assert ("r002", "output", "llama_guard", GUARD_MODEL, "hate_discrimination", "llama_guard:S10") in got
    assert ("r003", "output", "keyword", "1", "weapons", "pipe bomb") in got
    assert not [r for r in got if r[0] == "r000"]  # the garden answer: nothing from anyone
    assert finished.settings["scanners"][2] == {"use": "openai_moderation", "model": "omni-moderation-latest", "url": srv.url}


def test_a_bad_scanner_entry_is_refused_before_any_row(audit_db: Database, tmp_path: Path, monkeypatch) -> None:
    db = audit_db
    path = corpus(tmp_path / "in.jsonl", 4)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    unknown = make_pack(tmp_path / "a", [{"use": "keyword"}, {"use": "perspective_api", "url": "http://x"}])
    with pytest.raises(InvalidInput, match=r"content_safety.scanners\[1\] \(perspective_api\): no scanner named 'perspective_api'"):
        ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", pack=unknown)
    monkeypatch.delenv("ER_MODERATION_KEY", raising=False)
    keyless = make_pack(tmp_path / "b", [{"use": "openai_moderation", "url": "http://127.0.0.1:9/v1", "model": "m",
                                           "api_key_env": "ER_MODERATION_KEY"}])
    with pytest.raises(InvalidInput, match=r"scanners\[0\] \(openai_moderation\): api_key_env: the environment variable "
                                           r"ER_MODERATION_KEY is not set"):
        ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", pack=keyless)
    (tmp_path / "c").mkdir()
    keyed = make_pack(tmp_path / "c", [{"use": "llama_guard", "url": "http://127.0.0.1:9/v1", "model": "m", "api_key": "sk-SECRET"}])
    with pytest.raises(InvalidInput) as exc:
        ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", pack=keyed)
    assert "content_safety.yaml: scanners[0]" in str(exc.value) and "never put a key in the pack" in str(exc.value)
    assert "sk-SECRET" not in str(exc.value)
    with db.reading() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(AuditRun)).scalar_one() == 0


def media_corpus(path: Path) -> Path:
    recs = [{"id": "t1", "output": "a friendly answer"},
            {"id": "i1", "modality": "image", "output": "https://cdn.example/img/1.png"},
            {"id": "i2", "modality": "image", "metadata": {"uri": "s3://bucket/2.png"}},
            {"id": "i3", "modality": "image", "metadata": {"uri": "s3://bucket/3.png", "caption": "a pipe bomb diagram"}},
            {"id": "a1", "modality": "audio", "prompt": "read this", "metadata": {"transcript": "hello there"}},
            {"id": "v1", "modality": "video", "prompt": "a pipe bomb tutorial"}]
    path.write_text("\n".join(json.dumps({**r, "product": PRODUCT}) for r in recs) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("scanners", [None, [{"use": "keyword"}, {"use": "regex"}]], ids=["default", "fast-path"])
def test_media_with_only_a_uri_is_not_examined(audit_db: Database, tmp_path: Path, scanners, capsys) -> None:
    db = audit_db
    path = media_corpus(tmp_path / "media.jsonl")
    pack = make_pack(tmp_path, scanners)
    run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", pack=pack, seed=1)
    run = ca.run_inline(db, run.id)
    # i1, i2 carry only a URI; v1's prompt is scanned (and flagged) but its video is not examined
    assert (run.records, run.not_examined) == (6, 3)
    flagged = {r[0] for r in rows(db, run.id)}
    assert {"i3", "v1"} <= flagged and "i1" not in flagged
    assert cr.verdict(db, run.id).not_examined == 3
    # the records with only a URI are never drawn for the spot check (a reviewer's pass would read as the filter's);
    # the four others all are (a population this small is sampled whole); v1's prompt was examined and flagged
    with db.reading() as s:
        drawn = set(s.execute(sa.select(SpotCheckItem.record_id).where(SpotCheckItem.run_id == run.id)).scalars())
    assert drawn == {"t1", "i3", "a1", "v1"}
    _, markdown, html = cr.render_report(db, run.id)
    assert "| Not examined | 3 image/audio/video record(s) with only a URI" in markdown and "Not examined" in html
    from review.cli.main import main

    capsys.readouterr()
    assert main(["--database", db.url, "--as", "amara.okafor", "audit", "show", str(run.id)]) == 0
    assert "3 image/audio/video record(s) not examined" in capsys.readouterr().out
    assert main(["--database", db.url, "--as", "amara.okafor", "--json", "audit", "show", str(run.id)]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["not_examined"] == 3


def test_the_prefect_flow_runs_the_listed_models(prefect_harness, sqlite_audit_db: Database, tmp_path: Path) -> None:
    from flows.content_audit import aigc_content_audit

    db = sqlite_audit_db
    path = corpus(tmp_path / "in.jsonl", 12)
    with ModerationServer() as srv:
        run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", chunk_lines=4, pack=remote_pack(tmp_path, srv),
                           engine="prefect")
        summary = aigc_content_audit(run_id=run.id, database_url=db.url)
    assert summary["status"] == "SCANNED" and summary["records"] == 12
    got = rows(db, run.id)
    assert ("r001", "output", "openai_moderation", OPENAI_MODEL, "terrorism_violence", "openai:violence") in got
    assert ("r002", "output", "llama_guard", GUARD_MODEL, "hate_discrimination", "llama_guard:S10") in got


def test_a_reaudit_runs_the_listed_models(tmp_path: Path, capsys) -> None:
    """A follow-up's content re-audit, through the CLI, with a pack that lists the models."""
    from review.cli.main import main

    home = tmp_path / "demo"
    assert main(["--json", "demo", "--home", str(home)]) == 0
    url = f"sqlite:///{home / 'ethics-review.db'}"
    capsys.readouterr()
    assert main(["--database", url, "--json", "audit", "reaudits"]) == 0
    req = json.loads(capsys.readouterr().out)[0]
    records = tmp_path / "outputs.jsonl"
    records.write_text("\n".join(json.dumps({"id": f"r{i}", "product": req["product"], "prompt": "Summarise the plan",
                                             "output": "the ATTACKPLAN" if i == 3 else "Rest and fluids."}) for i in range(20)) + "\n")
    with ModerationServer() as srv:
        pack = remote_pack(tmp_path, srv)
        code = main(["--database", url, "--as", "priya.nair", "--json", "audit", "run", str(records), "--product", req["product"],
                     "--reaudit", str(req["id"]), "--pack", pack])
        out, err = capsys.readouterr()
        assert code == 0, err
    summary = json.loads(out)
    db = Database(url)
    try:
        got = rows(db, summary["run"])
        with db.reading() as s:
            assert s.get(AuditRun, summary["run"]).reaudit_id == req["id"]
    finally:
        db.dispose()
    assert ("r3", "output", "openai_moderation", OPENAI_MODEL, "terrorism_violence", "openai:violence") in got
    assert ("r3", "output", "llama_guard", GUARD_MODEL, "terrorism_violence", "llama_guard:S1") in got


PLUGIN = '''
from review.domain.content.taxonomy import Finding


class Shouting:
    """Flags a text written all in capitals (a plugin as a third party would publish it)."""

    name, version = "shouting", "0.1"

    def __init__(self, ctx, options):
        self.ctx, self.category, self.min_len = ctx, options.get("category", "harassment_defamation"), int(options.get("min_len", 8))

    def scan(self, record):
        out = []
        for field in ("prompt", "output"):
            text = getattr(record, field)
            if len(text) >= self.min_len and text.isupper():
                sev = self.ctx.severity_of(self.category)
                out.append(Finding(record.id, self.category, None, sev, self.ctx.level(sev), self.name, self.ctx.pack_version, field,
                                   0, len(text), text, "shouting", None, self.version))
        return out


def factory(ctx, options):
    if set(options) - {"category", "min_len"}:
        raise ValueError(f"unknown option(s) {sorted(set(options) - {'category', 'min_len'})}")
    return Shouting(ctx, options)
'''


def test_a_plugin_published_under_the_entry_point_group_runs(audit_db: Database, tmp_path: Path, monkeypatch) -> None:
    """A distribution on sys.path declaring ``ethics_review.scanners`` (no registration call) is found by name."""
    site = tmp_path / "site"
    (site / "er_shouting").mkdir(parents=True)
    (site / "er_shouting" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    dist = site / "er_shouting-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: er-shouting\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[ethics_review.scanners]\nshouting = er_shouting:factory\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    db = audit_db
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"r{k}", "product": PRODUCT, "prompt": "hi", "output": o})
                              for k, o in enumerate(["A CALM ANSWER IN CAPITALS", "a calm answer", "OK"])) + "\n", encoding="utf-8")
    (tmp_path / "a").mkdir()
    bad = make_pack(tmp_path / "a", [{"use": "keyword"}, {"use": "shouting", "colour": "red"}])
    with pytest.raises(InvalidInput, match=r"scanners\[1\] \(shouting\): unknown option\(s\) \['colour'\]"):
        ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", pack=bad)
    run = ca.start_run(db, path, product=PRODUCT, actor="amara.okafor", pack=make_pack(tmp_path, [{"use": "keyword"},
                                                                                                   {"use": "shouting", "min_len": 4}]))
    ca.run_inline(db, run.id)
    assert rows(db, run.id) == [("r0", "output", "shouting", "0.1", "harassment_defamation", "shouting")]
