"""OIDC bearer tokens: the identity provider is outside this machine, so the test is one.

A key pair is generated here, its public half published as a JWKS (with a discovery
document) by a local HTTP server, and tokens minted with it. The server must accept a
well-formed token for an active user and refuse ``alg: none``, an HS256 token "signed"
with the public key, another key, another audience or issuer, an expired token, a token
without the user claim and a user it does not know, and it must cache the key set.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from review.api.app import create_app
from tests.api.conftest import settings_for

AUD = "ethics-review"


class Provider:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks"}
                elif self.path == "/jwks":
                    body = provider.jwks
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def mint(self, *, sub: str = "priya.nair", key: Any = None, alg: str = "RS256", kid: str = "k1", aud: str = AUD,
             iss: str | None = None, exp_in: int = 300, drop: tuple[str, ...] = ()) -> str:
        now = int(time.time())
        claims = {"iss": iss or self.issuer, "aud": aud, "iat": now, "nbf": now, "exp": now + exp_in, "preferred_username": sub, "sub": "u-" + sub}
        for k in drop:
            claims.pop(k, None)
        return jwt.encode(claims, key if key is not None else self.key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.httpd.shutdown()


@pytest.fixture
def oidc_api(world, provider):
    settings = settings_for(world.db, oidc_issuer=provider.issuer, oidc_audience=AUD)
    with TestClient(create_app(world.db, settings)) as client:
        yield client


def _me(api: TestClient, token: str):
    return api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_a_valid_token_acts_as_its_user_and_keys_are_cached(oidc_api, provider, world) -> None:
    for _ in range(5):
        r = _me(oidc_api, provider.mint())
        assert r.status_code == 200 and r.json()["username"] == "priya.nair"
    assert provider.requests.count("/jwks") == 1 and provider.requests.count("/.well-known/openid-configuration") == 1
    # and the person acts as themselves: the trail names them
    from tests.integration.followup_helpers import submit

    rid = submit(world.db, "Remote-sensing platform")
    h = {"Authorization": f"Bearer {provider.mint(sub='wei.chen')}"}
    assert oidc_api.post(f"/api/v1/reviews/{rid}/assign", headers=h, json={"assignee": "priya.nair"}).status_code == 200
    trail = oidc_api.get(f"/api/v1/reviews/{rid}", headers=h).json()["trail"]
    assert trail[-1]["action"] == "assign" and trail[-1]["actor"] == "wei.chen"


def _unsigned(provider: Provider) -> str:
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode()).decode()
    now = int(time.time())
    body = jwt.utils.base64url_encode(json.dumps({"iss": provider.issuer, "aud": AUD, "exp": now + 300,
                                                  "preferred_username": "wei.chen"}).encode()).decode()
    return f"{header}.{body}."


def test_forged_and_wrong_tokens_are_refused(oidc_api, provider) -> None:
    from cryptography.hazmat.primitives import serialization

    public_pem = provider.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    cases = {
        "alg none": _unsigned(provider),
        "another key, same kid": provider.mint(key=provider.other),
        "unknown kid": provider.mint(kid="k9"),
        "wrong audience": provider.mint(aud="another-app"),
        "wrong issuer": provider.mint(iss="https://evil.example.org"),
        "expired": provider.mint(exp_in=-120),
        "no user claim": jwt.encode({"iss": provider.issuer, "aud": AUD, "exp": int(time.time()) + 300, "sub": "x"}, provider.key,
                                    algorithm="RS256", headers={"kid": "k1"}),
        "unknown user": provider.mint(sub="mallory"),
        "garbage": "not.a.jwt",
    }
    # PyJWT refuses to sign HS256 with a PEM key, so build that forgery by hand (as an attacker would).
    import hashlib
    import hmac

    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode()).decode()
    body = jwt.utils.base64url_encode(json.dumps({"iss": provider.issuer, "aud": AUD, "exp": int(time.time()) + 300,
                                                  "preferred_username": "wei.chen"}).encode()).decode()
    sig = jwt.utils.base64url_encode(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()).decode()
    cases["HS256 with the public key"] = f"{header}.{body}.{sig}"
    for name, token in cases.items():
        r = _me(oidc_api, token)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["exit_code"] == 10, name
    assert provider.requests.count("/jwks") <= 2  # the unknown kid may refresh the set once, not once per token


def test_personal_tokens_still_work_beside_oidc(oidc_api, world) -> None:
    assert _me(oidc_api, world.token["amara.okafor"]).json()["username"] == "amara.okafor"


def test_issuer_settings_are_validated(monkeypatch) -> None:
    from review.errors import InvalidInput
    from review.settings import load_settings

    monkeypatch.setenv("ETHICS_REVIEW_OIDC_ISSUER", "http://login.example.org")
    monkeypatch.setenv("ETHICS_REVIEW_OIDC_AUDIENCE", "x")
    with pytest.raises(InvalidInput, match=r"ETHICS_REVIEW_OIDC_ISSUER='http://login.example.org': must use https://"):
        load_settings()
    monkeypatch.setenv("ETHICS_REVIEW_OIDC_ISSUER", "https://login.example.org")
    monkeypatch.delenv("ETHICS_REVIEW_OIDC_AUDIENCE")
    with pytest.raises(InvalidInput, match="ETHICS_REVIEW_OIDC_AUDIENCE: set it with OIDC_ISSUER"):
        load_settings()
    monkeypatch.setenv("ETHICS_REVIEW_OIDC_AUDIENCE", "x")
    monkeypatch.setenv("ETHICS_REVIEW_OIDC_ALGORITHMS", "HS256,none")
    with pytest.raises(InvalidInput, match="asymmetric"):
        load_settings()
