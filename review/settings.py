"""Settings in one place: environment variables, then an optional TOML config file.

Every setting is an ``ETHICS_REVIEW_*`` variable (``PREFECT_API_URL`` keeps Prefect's own
name) or the same key in lower case without the prefix in the config file
(``$ETHICS_REVIEW_CONFIG``, default ``$ETHICS_REVIEW_HOME/config.toml`` when it exists)::

    database_url = "postgresql+psycopg://review@db.internal/ethics"
    url = "https://review.example.org"
    oidc_issuer = "https://login.example.org/realms/main"
    oidc_audience = "ethics-review"

``load_settings()`` validates everything at start: a bad value is an ``InvalidInput`` that
names the variable (and the file it came from), the value and the fix, before anything is
written. Secrets (token, database password, webhook URL, OIDC client secret) are
``SecretStr``: ``masked()`` is what ``config show`` prints.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from review.errors import InvalidInput

PREFIX = "ETHICS_REVIEW_"
CONFIG_ENV = PREFIX + "CONFIG"


def _home_default() -> Path:
    return Path.home() / ".ethics-review"


def _is_local_host(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or bool(host and host.endswith(".localhost"))


def _http_url(value: str | None, *, example: str, allow_plain_local: bool = True, require_tls: bool = False) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, e.g. {example}")
    if require_tls and parts.scheme != "https" and not (allow_plain_local and _is_local_host(parts.hostname)):
        raise ValueError(f"must use https:// (plain http is accepted for localhost only), e.g. {example}")
    return text


_DEFAULT_PORT = {"http": 80, "https": 443}


def _endpoint_key(url: str, *, pattern: bool) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) of an http(s) URL; ``pattern`` allows the port ``*`` (None: any port).
    ValueError, saying why, for anything else: another scheme, no host, a user name, a query, ``.``/``..`` segments."""
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT or not parts.hostname:
        raise ValueError("is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("holds a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("holds a query or fragment")
    if any(seg in (".", "..") for seg in unquote(parts.path).split("/")):
        raise ValueError("has a . or .. path segment")
    port: int | None
    if pattern and parts.netloc.endswith(":*"):
        port = None
    else:
        try:
            port = parts.port or _DEFAULT_PORT[scheme]
        except ValueError:
            raise ValueError("has an invalid port") from None
    return scheme, parts.hostname.lower(), port, parts.path.rstrip("/")


def endpoint_patterns(text: str) -> list[tuple[str, str, int | None, str]]:
    """The entries of ``eval_endpoints`` (comma-separated URL prefixes), parsed; ValueError naming a bad one."""
    out = []
    for entry in (x.strip() for x in text.split(",")):
        if entry:
            try:
                out.append(_endpoint_key(entry, pattern=True))
            except ValueError as exc:
                raise ValueError(f"entry {entry!r} {exc}; list URL prefixes such as https://models.internal/v1 or "
                                 "http://127.0.0.1:* (any port), comma-separated") from None
    return out


def endpoint_allowed(url: str, patterns: list[tuple[str, str, int | None, str]]) -> bool:
    """Whether ``url`` is under one of ``patterns``: the same scheme, host and port (``*``: any), and a path equal to
    the entry's or below it (segment by segment: ``/v1`` admits ``/v1/x``, not ``/v10``). A URL that cannot be
    compared exactly (user name, query, dot segments) is not allowed."""
    try:
        scheme, host, port, path = _endpoint_key(url, pattern=False)
    except ValueError:
        return False
    return any(scheme == s and host == h and (p is None or port == p) and (path == pp or path.startswith(pp + "/"))
               for s, h, p, pp in patterns)


class Settings(BaseModel):
    """The effective settings of this process (see the module docstring for sources; ``load_settings`` reads them).

    A plain pydantic model fed by ``_sources``, not pydantic-settings' ``BaseSettings``: that package
    imports asyncio, ssl, dotenv and its cloud providers, a quarter of the start-up of every command."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=_home_default, description="data directory: default database, evidence store, keys")
    database_url: SecretStr | None = Field(default=None, description="SQLAlchemy URL (default: a SQLite file under home)")
    evidence_dir: Path | None = Field(default=None, description="content-addressed evidence store (default: home/evidence)")
    evidence_store: Literal["dir", "database"] | None = Field(
        default=None, description="where evidence blobs live: database (default on PostgreSQL) or dir (default on SQLite)")
    policy_path: str = Field(default="", description="extra directories with policy packs (os.pathsep-separated)")
    frameworks: str = Field(default="", description="frameworks (pack ids, comma-separated) a review's dossier reports on: which of "
                            "their obligations its verified evidence meets (default: the installed packs its pack's controls map to)")

    # -- client side: which server, as whom --------------------------------------------------
    url: str | None = Field(default=None, description="the review server (remote mode), e.g. https://review.example.org")
    token: SecretStr | None = Field(default=None, description="API token or OIDC bearer token for the server")
    user: str | None = Field(default=None, description="acting user in direct (single-user) mode only; self-declared")
    direct: bool = Field(default=False, description="direct mode even when a server URL or login is configured")

    # -- server side ---------------------------------------------------------------------------
    server_host: str = Field(default="127.0.0.1", description="interface `ethics-review server` listens on")
    server_port: int = Field(default=8765, ge=1, le=65535, description="port of `ethics-review server`")
    server_threads: int = Field(default=4, ge=1, le=256, description="requests each server worker process handles at once "
                                "(the rest wait their turn; more threads per process only contend for its interpreter lock)")
    token_cache_seconds: float = Field(default=2.0, ge=0, le=60, description="how long a server worker trusts a personal token it "
                                       "has checked before reading it again (0: every request); a token revoked through another "
                                       "worker or in the database stops working within this time, one revoked here at once")
    oidc_issuer: str | None = Field(default=None, description="OpenID Connect issuer whose bearer tokens the server accepts")
    oidc_audience: str | None = Field(default=None, description="the audience (aud) those tokens must carry")
    oidc_user_claim: str = Field(default="preferred_username", description="the claim that names the user")
    oidc_jwks_url: str | None = Field(default=None, description="JWKS URL (default: discovered from the issuer)")
    oidc_algorithms: str = Field(default="RS256,ES256,PS256,EdDSA", description="accepted signature algorithms")
    feedback_max_chars: int = Field(default=5000, ge=100, le=100_000, description="longest public feedback message")
    feedback_per_minute: int = Field(default=10, ge=1, le=10_000, description="public feedback submissions per address per minute")
    eval_key_vars: str = Field(default="", description="environment variables of the server that an `eval run` through the API may "
                               "send to the model's endpoint as its API key (comma-separated; none by default: a caller could "
                               "otherwise name any of the server's variables)")
    eval_endpoints: str = Field(default="", description="model endpoints an `eval run` through the API may send questions to: URL "
                                "prefixes, comma-separated, e.g. https://models.internal/v1,http://127.0.0.1:* (port * is any "
                                "port); none by default: the server would otherwise send requests wherever a caller points it")
    max_evidence_mb: int = Field(default=200, ge=1, le=100_000, description="largest evidence file")
    max_product_file_kb: int = Field(default=256, ge=1, le=100_000, description="largest product or answers file")
    max_record_kb: int = Field(default=1024, ge=1, le=1_000_000, description="largest audited record (one JSONL line)")
    web_session_hours: int = Field(default=8, ge=1, le=24 * 30, description="lifetime of a browser session of `ethics-review web`")

    # -- integrations --------------------------------------------------------------------------
    webhook_url: SecretStr | None = Field(default=None, description="Apprise URL for notifications")
    personal_schemes: str | None = Field(default=None, description="extra Apprise schemes people may use for their own channel, comma-separated")
    prefect_api_url: str | None = Field(default=None, validation_alias="PREFECT_API_URL", description="a Prefect server")
    matcher: str | None = Field(default=None, description="content filter engine: hyperscan or ahocorasick")
    native: str | None = Field(default=None, description="0 uses the pure-Python text fold")
    followup_cron: str = Field(default="0 2 * * *", description="nightly follow-up scan")
    escalation_cron: str = Field(default="0 * * * *", description="escalation of overdue checks")
    schedule_tz: str = Field(default="UTC", description="time zone of the schedules")
    checkpoint_cron: str = Field(default="30 * * * *", description="signed audit checkpoints")
    checkpoint_dir: Path | None = Field(default=None, description="where the checkpoint flow keeps a copy of each checkpoint")
    signing_key: Path | None = Field(default=None, description="the audit signing key file (default: home/audit-signing.key)")

    # ---- validation: each message says what is wrong and how to fix it ------------------------
    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        text = v.get_secret_value().strip()
        # SQLAlchemy's own URL syntax, ``backend[+driver]://...``, checked without importing it (every command
        # reads the settings; most never open the database)
        m = re.match(r"([\w+]+)://", text)
        if m is None:
            raise ValueError("is not a database URL; use e.g. sqlite:////var/lib/ethics/review.db or "
                             "postgresql+psycopg://user@host/ethics")
        backend = m.group(1).split("+", 1)[0]
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"backend {backend!r} is not supported; use sqlite:/// or postgresql+psycopg://")
        return SecretStr(text)

    @field_validator("frameworks")
    @classmethod
    def _framework_ids(cls, v: str) -> str:
        """Spelled like pack ids here; whether each is installed is checked where a dossier is made."""
        for fw in (x.strip() for x in v.split(",")):
            if fw and not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", fw):
                raise ValueError(f"{fw!r} is not a pack id; name packs by id, comma-separated, e.g. eu-ai-act,nist-ai-rmf,iso-42001")
        return v

    @field_validator("url")
    @classmethod
    def _server_url(cls, v: str | None) -> str | None:
        return _http_url(v, example="https://review.example.org")

    @field_validator("oidc_issuer", "oidc_jwks_url")
    @classmethod
    def _oidc_url(cls, v: str | None) -> str | None:
        return _http_url(v, example="https://login.example.org/realms/main", require_tls=True)

    @field_validator("prefect_api_url")
    @classmethod
    def _prefect_url(cls, v: str | None) -> str | None:
        return _http_url(v, example="http://127.0.0.1:4200/api")

    @field_validator("eval_endpoints")
    @classmethod
    def _eval_endpoints(cls, v: str) -> str:
        endpoint_patterns(v)
        return v

    @field_validator("oidc_algorithms")
    @classmethod
    def _algorithms(cls, v: str) -> str:
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
        algs = [a.strip() for a in v.split(",") if a.strip()]
        bad = [a for a in algs if a not in allowed]
        if bad or not algs:
            raise ValueError(f"{', '.join(bad) or '(empty)'} not accepted; list asymmetric algorithms only, from: {', '.join(sorted(allowed))}")
        return ",".join(algs)

    @field_validator("matcher")
    @classmethod
    def _matcher(cls, v: str | None) -> str | None:
        if v and v.strip().lower() not in ("hyperscan", "ahocorasick"):
            raise ValueError("must be hyperscan or ahocorasick")
        return v.strip().lower() if v else None

    @field_validator("user")
    @classmethod
    def _user(cls, v: str | None) -> str | None:
        return v.strip() or None if v else None

    @model_validator(mode="after")
    def _oidc_complete(self) -> "Settings":
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("OIDC_AUDIENCE: set it with OIDC_ISSUER (the aud claim this server requires), e.g. ethics-review")
        return self

    # ---- derived --------------------------------------------------------------------------
    @property
    def database(self) -> str:
        """The database URL in clear (for the engine only; never print it)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.home / 'ethics-review.db'}"

    @property
    def remote(self) -> bool:
        return self.url is not None

    @property
    def config_file(self) -> Path | None:
        return _config_path()

    def masked(self) -> dict[str, Any]:
        """Every setting as shown by ``config show``: secrets masked, passwords hidden."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url":
                value = mask_url(self.database)
            elif name in ("webhook_url",) and value is not None:
                value = mask_url(value.get_secret_value(), keep_path=False)
            elif isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else None
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out


def mask_url(url: str, *, keep_path: bool = True) -> str:
    """A URL with its password (and, for webhooks, its path and query: tokens live there) hidden."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}{':***' if parts.password else ''}@{netloc}"
    if not keep_path:
        return f"{parts.scheme}://{netloc}/***" if (parts.path.strip('/') or parts.query) else f"{parts.scheme}://{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def _config_path() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    home = os.environ.get(PREFIX + "HOME")
    candidate = (Path(home) if home else _home_default()) / "config.toml"
    return candidate if candidate.is_file() else None


def _toml_values() -> dict[str, Any]:
    """The optional config file (TOML): keys are the setting names (``database_url``, ``url``, ...)."""
    path = _config_path()
    if path is None:
        return {}
    if not path.is_file():
        raise InvalidInput(f"{CONFIG_ENV}={path}: no such file; create it or unset {CONFIG_ENV}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: malformed TOML: {exc}") from None
    unknown = sorted(set(data) - set(Settings.model_fields) - {"prefect_api_url"})
    if unknown:
        raise InvalidInput(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(Settings.model_fields)}")
    return {k: v for k, v in data.items() if k in Settings.model_fields}


def _env_values() -> dict[str, str]:
    """The settings given as environment variables: ``ETHICS_REVIEW_<NAME>`` in any case (``PREFECT_API_URL``
    under Prefect's own name), as text for the model to validate."""
    env = {k.upper(): v for k, v in os.environ.items()}
    out: dict[str, str] = {}
    for name in Settings.model_fields:
        key = env_name(name)
        if key in env:
            out[name] = env[key]
    return out


def _sources(overrides: dict[str, Any]) -> dict[str, Any]:
    """Every setting's raw value by precedence: ``load_settings`` arguments, then the environment, then the config file."""
    return {**_toml_values(), **_env_values(), **overrides}


def env_name(field: str) -> str:
    return "PREFECT_API_URL" if field == "prefect_api_url" else PREFIX + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad value raises ``InvalidInput`` naming the variable and the fix."""
    try:
        return Settings.model_validate(_sources({k: v for k, v in overrides.items() if v is not None}))
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        field = str(e["loc"][0]) if e["loc"] else ""
        msg = str(e["msg"]).removeprefix("Value error, ")
        path = _config_path()
        if field:
            where = env_name(field) + (f" (or {field} in {path})" if path else "")
        else:
            where = f"{PREFIX}{msg.split(':', 1)[0]}" if ":" in msg else "settings"
            msg = msg.split(":", 1)[1].strip() if ":" in msg else msg
        value = e.get("input")
        shown = "" if value is None or isinstance(value, dict) or field in ("token", "database_url", "webhook_url") else f"={value!r}"
        raise InvalidInput(f"{where}{shown}: {msg}") from None
