"""OpenID Connect bearer tokens: signature against the issuer's JWKS, issuer, audience, expiry.

The identity provider is configured by issuer and audience (and the claim that names the
user); its keys come from ``jwks_uri`` in the issuer's discovery document (or a configured
JWKS URL) and are cached. An unknown ``kid`` refreshes the key set, at most once every
``min_refresh`` seconds, so a flood of forged tokens cannot turn into a flood of fetches.
Refused: ``alg: none`` and every symmetric algorithm (an HS256 token "signed" with the
public key), an unknown key, a bad signature, another audience or issuer, an expired or
not-yet-valid token, and a token without the user claim.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from review.errors import NotAuthenticated, Unavailable


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    user_claim: str = "preferred_username"
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256", "EdDSA")
    leeway_s: int = 30


class OidcVerifier:
    """Verifies bearer JWTs for one issuer; thread-safe, keys cached for ``ttl`` seconds."""

    def __init__(self, config: OidcConfig, *, ttl: float = 600.0, min_refresh: float = 30.0, timeout: float = 5.0) -> None:
        self.config = config
        self.ttl, self.min_refresh, self.timeout = ttl, min_refresh, timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._jwks_url = config.jwks_url
        self._lock = threading.Lock()
        self.fetches = 0  # how many times the key set was downloaded (tests read it)

    # ---- keys ----------------------------------------------------------------------------
    def _discover(self) -> str:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = self._get_json(url)
        jwks = doc.get("jwks_uri") if isinstance(doc, dict) else None
        if not isinstance(jwks, str):
            raise Unavailable(f"the OIDC issuer's discovery document {url} has no jwks_uri")
        return jwks

    def _get_json(self, url: str) -> Any:
        try:
            r = httpx.get(url, timeout=self.timeout, follow_redirects=False)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"cannot read {url} from the OIDC issuer ({type(exc).__name__}: {exc})") from None

    def _refresh(self) -> None:
        if self._jwks_url is None:
            self._jwks_url = self._discover()
        data = self._get_json(self._jwks_url)
        keys: dict[str, jwt.PyJWK] = {}
        for k in (data.get("keys") or []) if isinstance(data, dict) else []:
            if k.get("use", "sig") != "sig" or k.get("kty") == "oct":
                continue  # never accept a shared secret from a key set
            try:
                keys[str(k.get("kid", ""))] = jwt.PyJWK(k)
            except jwt.PyJWTError:
                continue
        self._keys, self._fetched_at = keys, time.monotonic()
        self.fetches += 1

    def key_for(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if not self._fetched_at or age > self.ttl or (kid not in self._keys and age > self.min_refresh):
                self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise NotAuthenticated("bearer token signed with a key the OIDC issuer does not publish")
        return key

    # ---- tokens --------------------------------------------------------------------------
    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``NotAuthenticated`` with the reason."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotAuthenticated("malformed bearer token (neither an API token nor a JWT)") from None
        alg = header.get("alg")
        if alg not in self.config.algorithms:
            raise NotAuthenticated(f"bearer token algorithm {alg!r} is not accepted (accepted: {', '.join(self.config.algorithms)})")
        key = self.key_for(str(header.get("kid", "")))
        if key.algorithm_name and key.algorithm_name != alg:
            raise NotAuthenticated(f"bearer token algorithm {alg!r} does not match its key ({key.algorithm_name})")
        try:
            return jwt.decode(token, key.key, algorithms=[alg], audience=self.config.audience, issuer=self.config.issuer,
                              leeway=self.config.leeway_s, options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("bearer token expired; sign in again") from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated(f"bearer token is not for this server (audience must be {self.config.audience!r})") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated(f"bearer token was not issued by {self.config.issuer}") from None
        except jwt.ImmatureSignatureError:
            raise NotAuthenticated("bearer token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("bearer token signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"bearer token refused: {exc}") from None

    def username(self, token: str) -> str:
        claims = self.verify(token)
        name = claims.get(self.config.user_claim)
        if not isinstance(name, str) or not name.strip():
            raise NotAuthenticated(f"bearer token has no {self.config.user_claim!r} claim naming the user")
        return name.strip()
