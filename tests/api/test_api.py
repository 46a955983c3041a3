"""The HTTP API on SQLite and PostgreSQL: problem+json for every error class, a CI's submit-and-poll
with a token, evidence up and down, the public feedback channel, tokens, and the OpenAPI docs."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
import yaml

from review.services import tokens
from tests.api.test_matrix import GEO, _product_doc
from tests.integration.followup_helpers import approve, released, submit


def _problem(r, status: int, exit_code: int, kind: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["exit_code"] == exit_code and body["type"] == f"urn:ethics-review:problem:{kind}" and body["status"] == status
    assert "\n" not in body["detail"]
    return body["detail"]


def test_errors_are_problems_with_the_exit_codes_status(api, world) -> None:
    h = world.auth
    rid = submit(world.db, GEO)
    assert "does not exist" in _problem(api.get("/api/v1/reviews/999", headers=h("priya.nair")), 404, 3, "not-found")
    detail = _problem(api.get("/api/v1/reviews/abc", headers=h("priya.nair")), 422, 2, "invalid-input")
    assert "review id 'abc' is not a number" in detail
    _problem(api.post(f"/api/v1/reviews/{rid}/decisions", headers=h("priya.nair"), json={"decision": "approve"}), 422, 2, "invalid-input")
    _problem(api.post(f"/api/v1/reviews/{rid}/decisions", headers=h("geo.lead"), json={"decision": "approve", "rationale": "mine"}),
             403, 4, "not-allowed")
    # SUBMITTED cannot be approved before someone takes it: an illegal lifecycle move
    _problem(api.post(f"/api/v1/reviews/{rid}/advance", headers=h("geo.lead")), 409, 5, "illegal-move")
    api.post(f"/api/v1/reviews/{rid}/assign", headers=h("wei.chen"), json={"assignee": "priya.nair"})
    stale = api.get(f"/api/v1/reviews/{rid}", headers=h("priya.nair")).json()["review"]["version"] - 1
    detail = _problem(api.post(f"/api/v1/reviews/{rid}/decisions", headers=h("priya.nair"),
                               json={"decision": "approve", "rationale": "fine", "expected_version": stale}), 409, 6, "conflict")
    assert "changed since you opened it" in detail
    api.post(f"/api/v1/reviews/{rid}/decisions", headers=h("priya.nair"), json={"decision": "approve", "rationale": "fine"})
    api.post(f"/api/v1/reviews/{rid}/advance", headers=h("geo.lead"))
    api.post(f"/api/v1/reviews/{rid}/submit", headers=h("geo.lead"))
    api.post(f"/api/v1/reviews/{rid}/assign", headers=h("wei.chen"), json={"assignee": "priya.nair"})
    detail = _problem(api.post(f"/api/v1/reviews/{rid}/decisions", headers=h("priya.nair"), json={"decision": "approve", "rationale": "all good"}),
                      409, 7, "gate-rule")
    assert "HCT-01" in detail


def test_ci_submits_yaml_and_polls_with_a_token(api, world) -> None:
    """What a product team's CI does with curl: POST the product file, poll the review."""
    h = {**world.auth("geo.lead"), "Content-Type": "application/yaml"}
    body = yaml.safe_dump(_product_doc(), allow_unicode=True).encode()
    r = api.post("/api/v1/reviews", params={"source": "product.yaml"}, content=body, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["review"]["id"]
    assert r.json()["step"]["message"].startswith("initiation step:")
    got = api.get(f"/api/v1/reviews/{rid}", headers=world.auth("geo.lead")).json()
    assert (got["review"]["gate"], got["review"]["status"], got["review"]["grade"]) == ("INITIATION", "SUBMITTED", "LOW")
    assert got["trail"][0]["actor"] == "geo.lead"  # the audit trail names the token's person
    bad = api.post("/api/v1/reviews", params={"source": "product.yaml"}, content=b"product: [oops", headers=h)
    assert "product.yaml: line 2, column 1: malformed YAML" in _problem(bad, 422, 2, "invalid-input")


def test_evidence_upload_list_and_download(api, world, tmp_path) -> None:
    rid = submit(world.db, GEO)
    approve(world.db, rid, "priya.nair")
    api.post(f"/api/v1/reviews/{rid}/advance", headers=world.auth("geo.lead"))
    data = "Accountable owner: Jane Doe\n".encode() * 1000
    r = api.post(f"/api/v1/reviews/{rid}/controls/HCT-01/evidence", params={"filename": "../../etc/raci.md"}, content=data,
                 headers=world.auth("geo.lead"))
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["filename"] == "raci.md" and ev["sha256"] == hashlib.sha256(data).hexdigest() and ev["uploaded_by"] == "geo.lead"
    listed = api.get(f"/api/v1/reviews/{rid}/evidence", headers=world.auth("priya.nair")).json()
    assert [e["id"] for e in listed] == [ev["id"]]
    down = api.get(f"/api/v1/reviews/{rid}/evidence/{ev['id']}", headers=world.auth("priya.nair"))
    assert down.status_code == 200 and down.content == data and 'filename="raci.md"' in down.headers["content-disposition"]
    _problem(api.get(f"/api/v1/reviews/{rid}/evidence/999", headers=world.auth("priya.nair")), 404, 3, "not-found")
    assert api.get("/api/v1/evidence/check", headers=world.auth("priya.nair")).json()["problems"] == []
    from tests.integration.followup_helpers import tamper_blob

    tamper_blob(world.db, ev["sha256"], data[:-1])  # changed in the store behind the server's back
    assert "no longer matches" in _problem(api.get(f"/api/v1/reviews/{rid}/evidence/{ev['id']}", headers=world.auth("priya.nair")),
                                           409, 6, "conflict")
    checked = api.get("/api/v1/evidence/check", params={"review": rid}, headers=world.auth("priya.nair")).json()
    assert checked["checked"] == 1 and "raci.md" in checked["problems"][0]


def test_public_feedback_is_limited_and_echoes_nothing(world) -> None:
    from fastapi.testclient import TestClient

    from review.api.app import create_app
    from tests.api.conftest import settings_for

    released(world.db, GEO, world.db.data_dir)
    app = create_app(world.db, settings_for(world.db, feedback_per_minute=3, feedback_max_chars=200))
    with TestClient(app) as api:
        msg = "[bold red]Your model[/bold red] \x1b]8;;http://evil\x07 mislabelled our forest <script>alert(1)</script>"
        r = api.post("/api/v1/feedback", json={"product": GEO, "message": msg, "contact": "me@example.org"})
        assert r.status_code == 201 and set(r.json()) == {"id", "status"}  # nothing the sender wrote comes back
        assert "script" not in r.text and "bold" not in r.text
        too_long = api.post("/api/v1/feedback", json={"product": GEO, "message": "x" * 201})
        assert "over the 200 limit" in _problem(too_long, 422, 2, "invalid-input")
        _problem(api.post("/api/v1/feedback", content=b"not json", headers={"Content-Type": "application/json"}), 422, 2, "invalid-input")
        limited = api.post("/api/v1/feedback", json={"product": GEO, "message": "a fourth concern within the minute"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    with world.db.reading() as s:
        stored = s.execute(sa.text("SELECT message FROM feedback")).scalars().all()
    assert stored == [msg]  # kept as written (it is evidence), shown only as text


def test_tokens_are_shown_once_stored_as_hashes_and_revocable(api, world) -> None:
    admin = world.auth("admin")
    r = api.post("/api/v1/tokens", headers=admin, json={"username": "priya.nair", "scope": "read", "expires": "2w", "name": "laptop"})
    assert r.status_code == 201
    new = r.json()
    secret, tid = new["token"], new["info"]["id"]
    with world.db.reading() as s:
        rows = s.execute(sa.text("SELECT * FROM api_token")).mappings().all()
    assert secret not in json.dumps([dict(x) for x in rows], default=str)
    assert any(x["token_hash"] == hashlib.sha256(secret.encode()).hexdigest() for x in rows)
    listed = api.get("/api/v1/tokens", headers=world.auth("priya.nair")).json()
    assert {t["username"] for t in listed} == {"priya.nair"} and "token" not in json.dumps(listed).replace('"token_', "")
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["username"] == "priya.nair"
    assert api.post(f"/api/v1/tokens/{tid}/revoke", headers=world.auth("priya.nair")).status_code == 200  # its owner may revoke it
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    _problem(api.post(f"/api/v1/tokens/{tid}/revoke", headers=admin), 409, 6, "conflict")  # already revoked by its owner
    other = tokens.create_token(world.db, "amara.okafor", actor="admin").info.id
    _problem(api.post(f"/api/v1/tokens/{other}/revoke", headers=world.auth("priya.nair")), 404, 3, "not-found")  # not hers


def test_openapi_docs_list_the_api(api) -> None:
    spec = api.get("/openapi.json").json()
    paths = set(spec["paths"])
    for p in ("/api/v1/reviews", "/api/v1/reviews/{review_id}/decisions", "/api/v1/reviews/{review_id}/controls/{control_id}/evidence",
              "/api/v1/feedback", "/api/v1/audits", "/api/v1/followups/{check_id}/visits", "/api/v1/tokens", "/api/v1/audit-log/verify",
              "/api/v1/evals", "/api/v1/evals/{run_id}/labels"):
        assert p in paths, p
    assert api.get("/docs").status_code == 200


def test_each_worker_runs_at_most_server_threads_requests_at_once(sqlite_world) -> None:
    """``server --threads N`` / ``ETHICS_REVIEW_SERVER_THREADS``: the request thread pool has N threads."""
    import anyio.to_thread
    from fastapi.testclient import TestClient

    from review.api.app import create_app
    from tests.api.conftest import settings_for

    with TestClient(create_app(sqlite_world.db, settings_for(sqlite_world.db, server_threads=3))) as client:
        assert client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == 3
        assert client.get("/api/v1/me", headers=sqlite_world.auth("priya.nair")).status_code == 200


def test_only_an_admin_runs_the_scan_at_another_time(api, world) -> None:
    later = {"now": "2030-01-01T02:00:00+00:00"}
    detail = _problem(api.post("/api/v1/followups/scan", json=later, headers=world.auth("wei.chen")), 403, 4, "not-allowed")
    assert "lacks the role to run the follow-up scan at another time than now (needs admin" in detail
    assert api.post("/api/v1/followups/scan", json={}, headers=world.auth("wei.chen")).status_code == 200
    assert api.post("/api/v1/followups/scan", json=later, headers=world.auth("admin")).status_code == 200


def test_process_report_and_personal_channel_over_the_api(api, world, monkeypatch) -> None:
    from review.client.base import ProcessReportDoc
    from review.client.codec import decode

    r = api.get("/api/v1/reports/process", params={"from": "2000-01-01"}, headers=world.auth("wei.chen"))
    assert r.status_code == 200
    doc = decode(ProcessReportDoc, r.json())
    assert doc.data["from"] == "2000-01-01" and len(doc.data["dimensions"]) == 6
    assert "## Mechanism guarantee" in doc.markdown and doc.html.startswith("<!doctype html>")
    _problem(api.get("/api/v1/reports/process", headers=world.auth("dev.lead")), 403, 4, "not-allowed")
    _problem(api.get("/api/v1/reports/process", params={"to": "someday"}, headers=world.auth("wei.chen")), 422, 2, "invalid-input")
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ethics"
    r = api.put("/api/v1/channel", json={"url": url}, headers=world.auth("amara.okafor"))
    assert r.status_code == 200 and r.json() == "slack://…"
    assert api.get("/api/v1/channel", headers=world.auth("amara.okafor")).json() == "slack://…"
    _problem(api.get("/api/v1/channel", params={"username": "amara.okafor"}, headers=world.auth("priya.nair")), 403, 4, "not-allowed")


def test_review_list_searches_literally_and_caps_its_count(api, world) -> None:
    """The API's list takes the same search (every character literal) and an optional count cap."""
    from tests.integration.test_name_search import _insert

    _insert(world.db, ["50% off bot", "500 offers bot", "Übersetzer bot"])
    h = world.auth("priya.nair")
    page = api.get("/api/v1/reviews", params={"search": "0% O"}, headers=h).json()
    assert [r["product"] for r in page["rows"]] == ["50% off bot"] and page["total"] == 1 and page["total_capped"] is False
    page = api.get("/api/v1/reviews", params={"search": "BOT", "count_cap": 2, "limit": 1}, headers=h).json()
    assert (page["total"], page["total_capped"], len(page["rows"])) == (2, True, 1)
    assert api.get("/api/v1/reviews", params={"search": "übersetzer"}, headers=h).json()["total"] == 1
    _problem(api.get("/api/v1/reviews", params={"count_cap": 0}, headers=h), 422, 2, "invalid-input")
