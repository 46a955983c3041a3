"""Model evaluation through the review server (issue 12): the remote client plans a run, the server asks the model (a
real HTTP server on 127.0.0.1) in the background and the client polls; runs are listed and shown; the committee
draws and labels the manual spot-check sample. The audits' rules: anyone may start and read, only the committee
samples and labels, a read-only token only reads; the API key stays on the server, and only a variable the admin
listed there may be named. The real API app under uvicorn; SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from review.api.app import create_app
from review.bench.chat_server import ChatServer
from review.cli.main import main
from review.client.local import LocalClient
from review.client.remote import RemoteClient
from review.errors import Forbidden, NotFound, Unavailable
from review.services import tokens
from tests.api.conftest import World, settings_for, start_uvicorn, stop_uvicorn
from tests.api.test_matrix import GEO
from tests.integration.followup_helpers import submit

FAST = {"timeout": 2.0, "retries": 1, "concurrency": 4}


def _client(url: str, world: World, user: str) -> RemoteClient:
    return RemoteClient(url, world.token[user], poll_interval=0.05)


def test_a_run_through_the_server_is_the_same_as_here(world: World, live_server) -> None:
    rid = submit(world.db, GEO)
    amara, priya, team = (_client(live_server.url, world, u) for u in ("amara.okafor", "priya.nair", "geo.lead"))
    seen: list[tuple[int, int]] = []
    started: list[int] = []
    try:
        with ChatServer(latency=0.01) as srv:
            srv.script = {}  # complies with everything: the should-refuse bar is missed
            run = team.run_eval(review=rid, endpoint=srv.url, model="acme-chat", bank="should_refuse", sample=12, seed=4,
                                progress=lambda done, total: seen.append((done, total)), started=lambda r: started.append(r.id), **FAST)
            assert sum(srv.answered.values()) == 12
        assert run.status == "DONE" and run.answered == 12 and started == [run.id] and seen[-1] == (12, 12)
        assert run.started_by == "geo.lead"  # the token's person, on the run and on the trail
        here = LocalClient(world.db, "amara.okafor")
        remote_view, local_view = amara.get_eval(run.id), here.get_eval(run.id)
        assert remote_view.to_json() == local_view.to_json()
        assert [b.met for b in remote_view.bars] == [False, None, None]
        assert [v.run.id for v in amara.list_evals(review=rid)] == [run.id]
        with pytest.raises(NotFound, match="eval run 999 does not exist"):
            amara.get_eval(999)

        # the committee's spot check, through the server: the team may neither draw nor label
        with pytest.raises(Forbidden):
            team.draw_eval_sample(run.id, size=6)
        info = amara.draw_eval_sample(run.id, size=6, seed=2)
        assert info.created and info.size == 6 and not amara.draw_eval_sample(run.id).created
        items = amara.eval_items(run.id)
        assert [i.seq for i in items] == list(range(1, 7)) and all(i.auto_refused is None for i in items)  # blind
        assert amara.eval_items(run.id, blind=False)[0].auto_refused is False
        labels = [{"item": i.seq, "safety": "safe", "refusal": "complied"} for i in items]
        with pytest.raises(Forbidden):
            team.label_eval_items(run.id, labels)
        with pytest.raises(Exception, match="labels.csv:3: safety 'fine' for item 2"):  # named by its line; all or nothing
            amara.label_eval_items(run.id, [labels[0], {**labels[1], "safety": "fine"}], where=["labels.csv:2", "labels.csv:3"])
        assert amara.eval_spot_verdict(run.id).labelled == 0
        done = amara.label_eval_items(run.id, labels, where=[f"labels.csv:{k + 2}" for k in range(6)])
        assert [x.seq for x in done] == [1, 2, 3, 4, 5, 6] and all(x.reviewer == "amara.okafor" for x in done)
        priya.label_eval_items(run.id, [{**labels[0], "second": True}, {**labels[1], "safety": "unsafe", "second": True}])
        v = amara.eval_spot_verdict(run.id)
        assert (v.labelled, v.safe, v.pairs, v.disagreements, v.awaiting_adjudication) == (6, 6, 2, 1, [2])
        assert v == here.eval_spot_verdict(run.id)  # the same object in both modes
    finally:
        for c in (amara, priya, team):
            c.close()


def test_a_dying_endpoint_stops_the_run_with_its_error_and_resume_finishes(world: World, live_server) -> None:
    rid = submit(world.db, GEO)
    c = _client(live_server.url, world, "amara.okafor")
    try:
        with ChatServer() as srv:
            srv.good_left = 5
            with pytest.raises(Unavailable) as err:
                c.run_eval(review=rid, endpoint=srv.url, model="m", bank="should_refuse", sample=20, seed=1, timeout=1.0, retries=0,
                           concurrency=2)
            assert err.value.exit_code == 11 and f"{srv.url}/chat/completions" in err.value.message and "HTTP 500" in err.value.message
            [v] = c.list_evals(review=rid)
            assert v.run.status == "FAILED" and 0 < v.run.answered <= 5
            srv.good_left = None
            run = c.resume_eval(v.run.id)
        assert run.status == "DONE" and run.answered == 20
    finally:
        c.close()


def test_the_key_stays_on_the_server_and_only_a_listed_variable_is_sent(world: World, monkeypatch) -> None:
    rid = submit(world.db, GEO)
    monkeypatch.setenv("ACME_KEY", "sk-acme-1")
    monkeypatch.setenv("SERVER_SECRET", "do-not-send")
    with ChatServer() as srv:
        live = start_uvicorn(create_app(world.db, settings_for(world.db, eval_key_vars="ACME_KEY, OTHER_KEY", eval_endpoints=srv.url)))
        c = _client(live.url, world, "amara.okafor")
        try:
            with pytest.raises(Forbidden, match="api_key_env 'SERVER_SECRET': the server sends only the API keys its admin lists in "
                                                "ETHICS_REVIEW_EVAL_KEY_VARS \\(ACME_KEY, OTHER_KEY\\)"):
                c.run_eval(review=rid, endpoint=srv.url, model="m", bank="should_refuse", sample=3, api_key_env="SERVER_SECRET", **FAST)
            assert c.list_evals() == [] and srv.requests == 0  # refused before anything was planned or asked
            run = c.run_eval(review=rid, endpoint=srv.url, model="m", bank="should_refuse", sample=3, api_key_env="ACME_KEY", **FAST)
            assert run.status == "DONE" and srv.auth == {"Bearer sk-acme-1"}
        finally:
            c.close()
            stop_uvicorn(live)


def test_the_server_asks_only_the_endpoints_its_admin_lists(world: World) -> None:
    """The server would otherwise send requests wherever a caller pointed it (its own network, cloud metadata
    addresses): an endpoint outside ETHICS_REVIEW_EVAL_ENDPOINTS is refused before anything is planned or sent, and a
    run whose endpoint was struck from the list since it started does not resume."""
    rid = submit(world.db, GEO)
    with ChatServer() as listed, ChatServer() as other:
        live = start_uvicorn(create_app(world.db, settings_for(world.db, eval_endpoints=f"{listed.url}, https://models.example.org/v1")))
        c = _client(live.url, world, "geo.lead")
        try:
            port = listed.url.split(":")[2].split("/")[0]
            for url in (other.url,  # same host, another port
                        listed.url.replace("/v1", "/v10"), listed.url.replace("/v1", ""),  # beside or above the listed path
                        listed.url.replace("127.0.0.1", "localhost"),  # the same machine by another name is another entry
                        listed.url + "/../admin", listed.url + "/%2e%2e/admin",
                        "http://169.254.169.254/latest/meta-data", f"https://127.0.0.1:{port}/v1"):
                with pytest.raises(Forbidden, match=r"endpoint '.*': the server sends questions only to the model endpoints its "
                                                    r"admin lists in ETHICS_REVIEW_EVAL_ENDPOINTS \(http://127.0.0.1:\d+/v1, "
                                                    r"https://models.example.org/v1\)"):
                    c.run_eval(review=rid, endpoint=url, model="m", bank="should_refuse", sample=3, **FAST)
            assert c.list_evals() == [] and other.requests == 0 and listed.requests == 0
            run = c.run_eval(review=rid, endpoint=listed.url + "/", model="m", bank="should_refuse", sample=3, **FAST)
            assert run.status == "DONE" and listed.requests == 3
        finally:
            c.close()
            stop_uvicorn(live)

        # planned here (direct mode is the person's own machine), resumed through a server that does not list it
        planned = LocalClient(world.db, "geo.lead").plan_eval(review=rid, endpoint=other.url, model="m", bank="should_refuse", sample=2)
        live = start_uvicorn(create_app(world.db, settings_for(world.db, eval_endpoints=listed.url)))
        c = _client(live.url, world, "geo.lead")
        try:
            with pytest.raises(Forbidden, match="ETHICS_REVIEW_EVAL_ENDPOINTS"):
                c.resume_eval(planned.id)
            assert other.requests == 0
        finally:
            c.close()
            stop_uvicorn(live)


def test_read_tokens_read_and_the_cli_goes_through_the_server(world: World, live_server, capsys, monkeypatch) -> None:
    rid = submit(world.db, GEO)
    read = tokens.create_token(world.db, "priya.nair", actor="admin", scope="read").token
    monkeypatch.setenv("ETHICS_REVIEW_URL", live_server.url)
    with ChatServer() as srv:
        monkeypatch.setenv("ETHICS_REVIEW_TOKEN", read)
        code = main(["eval", "run", "--review", str(rid), "--endpoint", srv.url, "--model", "m", "--bank", "must_not_refuse",
                     "--sample", "4", "--timeout", "2"])
        assert code == 4 and "read-only" in capsys.readouterr().err and srv.requests == 0
        monkeypatch.setenv("ETHICS_REVIEW_TOKEN", world.token["geo.lead"])
        assert main(["--json", "eval", "run", "--review", str(rid), "--endpoint", srv.url, "--model", "m", "--bank", "must_not_refuse",
                     "--sample", "4", "--timeout", "2"]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "DONE"
    assert main(["--json", "eval", "list"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["review"] == rid and row["status"] == "DONE" and row["started_by"] == "geo.lead" and row["questions"] == 4
    assert main(["--json", "eval", "run", "--review", str(rid), "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--bank",
                 "all", "--prefect"]) == 2
    assert "--prefect runs the flow where the database is" in capsys.readouterr().err
    monkeypatch.setenv("ETHICS_REVIEW_TOKEN", read)
    assert main(["eval", "show", str(row["id"])]) == 0  # a read token reads
    assert "manual spot check: no sample yet" in " ".join(capsys.readouterr().out.split())
    assert main(["eval", "sample", str(row["id"])]) == 4  # and never writes
