"""Settings sources: load_settings arguments, then the environment (any case), then the config file; errors name the
variable or file and the fix; reading them imports no pydantic-settings (nor the asyncio and ssl it brings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from review.errors import InvalidInput
from review.settings import endpoint_allowed, endpoint_patterns, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import os

    for k in list(os.environ):
        if k.upper().startswith("ETHICS_REVIEW_") or k.upper() == "PREFECT_API_URL":
            monkeypatch.delenv(k)
    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(tmp_path))
    return tmp_path


def test_precedence_arguments_then_environment_then_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "config.toml").write_text('server_port = 9001\nuser = "from.file"\nprefect_api_url = "http://127.0.0.1:4200/api"\n'
                                          'feedback_per_minute = 7\n')
    s = load_settings()
    assert (s.server_port, s.user, s.prefect_api_url, s.feedback_per_minute) == (9001, "from.file", "http://127.0.0.1:4200/api", 7)
    monkeypatch.setenv("ethics_review_server_port", "9002")  # any case, as before
    monkeypatch.setenv("ETHICS_REVIEW_USER", "from.env")
    monkeypatch.setenv("PREFECT_API_URL", "http://localhost:4201/api")
    monkeypatch.setenv("ETHICS_REVIEW_DIRECT", "1")
    s = load_settings()
    assert (s.server_port, s.user, s.prefect_api_url, s.direct, s.feedback_per_minute) == (9002, "from.env", "http://localhost:4201/api", True, 7)
    assert load_settings(user="from.argument").user == "from.argument"
    assert s.home == clean_env and s.database == f"sqlite:///{clean_env / 'ethics-review.db'}"


@pytest.mark.parametrize(("var", "value", "needle"), [
    ("ETHICS_REVIEW_SERVER_PORT", "abc", "ETHICS_REVIEW_SERVER_PORT='abc': Input should be a valid integer"),
    ("ETHICS_REVIEW_SERVER_PORT", "70000", "ETHICS_REVIEW_SERVER_PORT='70000': Input should be less than or equal to 65535"),
    ("PREFECT_API_URL", "ftp://x", "PREFECT_API_URL='ftp://x': must be an http:// or https:// URL"),
    ("ETHICS_REVIEW_EVIDENCE_STORE", "cloud", "ETHICS_REVIEW_EVIDENCE_STORE='cloud'"),
    ("ETHICS_REVIEW_DATABASE_URL", "mysql://x/y", "ETHICS_REVIEW_DATABASE_URL: backend 'mysql' is not supported"),
    ("ETHICS_REVIEW_DATABASE_URL", "mysql+pymysql://x/y", "ETHICS_REVIEW_DATABASE_URL: backend 'mysql' is not supported"),
    ("ETHICS_REVIEW_DATABASE_URL", "review.db", "ETHICS_REVIEW_DATABASE_URL: is not a database URL; use e.g. sqlite:////"),
    ("ETHICS_REVIEW_EVAL_ENDPOINTS", "https://ok.example/v1, models.internal",
     "ETHICS_REVIEW_EVAL_ENDPOINTS='https://ok.example/v1, models.internal': entry 'models.internal' is not an http:// or "
     "https:// URL with a host; list URL prefixes such as https://models.internal/v1"),
    ("ETHICS_REVIEW_EVAL_ENDPOINTS", "http://u:p@h/v1", "entry 'http://u:p@h/v1' holds a user name or password"),
])
def test_a_bad_variable_is_named_with_its_value_and_fix(clean_env: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str,
                                                        needle: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidInput) as exc:
        load_settings()
    assert needle in str(exc.value)


def test_config_file_problems_name_the_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = clean_env / "config.toml"
    cfg.write_text("server_prot = 1\n")
    with pytest.raises(InvalidInput, match=r"config.toml: unknown setting\(s\) server_prot; known: home, database_url"):
        load_settings()
    cfg.write_text("server_port = [\n")
    with pytest.raises(InvalidInput, match="config.toml: malformed TOML"):
        load_settings()
    cfg.write_text("server_port = 0\n")
    with pytest.raises(InvalidInput, match=r"ETHICS_REVIEW_SERVER_PORT \(or server_port in .*config.toml\)"):
        load_settings()
    monkeypatch.setenv("ETHICS_REVIEW_CONFIG", str(clean_env / "missing.toml"))
    with pytest.raises(InvalidInput, match="no such file; create it or unset ETHICS_REVIEW_CONFIG"):
        load_settings()


def test_loading_settings_imports_no_pydantic_settings_asyncio_ssl_or_sqlalchemy(clean_env: Path) -> None:
    import os

    probe = "import sys; from review.settings import load_settings; load_settings(); print(sorted(sys.modules))"
    env = {**os.environ, "ETHICS_REVIEW_DATABASE_URL": "postgresql+psycopg://review@127.0.0.1/ethics"}  # checked, not opened
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout
    loaded = {m for m in eval(out) if m.split(".")[0] in ("pydantic_settings", "asyncio", "ssl", "dotenv", "sqlalchemy")}
    assert loaded == set()


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://models.internal/v1", True), ("https://MODELS.internal:443/v1/", True), ("https://models.internal/v1/chat", True),
    ("https://models.internal/v10", False), ("https://models.internal/", False), ("http://models.internal/v1", False),
    ("https://models.internal:8443/v1", False), ("https://models.internal.evil.example/v1", False),
    ("https://models.internal/v1/../admin", False), ("https://models.internal/v1/%2E%2E/admin", False),
    ("https://x@models.internal/v1", False), ("https://models.internal/v1?x=1", False), ("file:///etc/passwd", False),
    ("http://127.0.0.1:8001/v1", True), ("http://127.0.0.1/anything", True), ("http://127.0.0.2:8001/v1", False),
    ("http://[::1]:8000/v1", False), ("not a url", False),
])
def test_eval_endpoint_allow_list(url: str, allowed: bool) -> None:
    patterns = endpoint_patterns("https://models.internal/v1, http://127.0.0.1:*")
    assert endpoint_allowed(url, patterns) is allowed
    assert not endpoint_allowed(url, endpoint_patterns(""))  # nothing is listed by default
