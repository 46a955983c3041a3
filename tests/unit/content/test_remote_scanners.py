"""The remote scanners against a real HTTP server on 127.0.0.1 that speaks each API (no database):
findings mapped to the pack's taxonomy, retries on 500 / 429 / slow / malformed answers, the clear
error on a dead endpoint, the rate limit, the answer cache; and the pack's scanner list."""

from __future__ import annotations

import socket
import time

import pytest
import yaml

from policies.content_schema import ContentSafetyPolicy
from review.domain.content.scanners import RESULT_CACHE, ScannerConfigError, ScannerContext, build
from review.domain.content.taxonomy import Record
from review.errors import ScannerUnavailable
from review.plugins.moderation import LlamaGuard, OpenAIModeration
from review.bench.moderation_server import GUARD_MODEL, OPENAI_MODEL, ModerationServer
from tests.unit.content.conftest import PACK

FAST = {"retries": 2, "backoff": 0.01, "timeout": 0.5, "concurrency": 2, "batch_size": 2}


@pytest.fixture
def server():
    with ModerationServer() as srv:
        yield srv


def ctx(policy) -> ScannerContext:
    return ScannerContext("test", policy.level_of, policy.categories)


def openai(policy, srv, **kw) -> OpenAIModeration:
    return OpenAIModeration(ctx(policy), {"url": srv.url, "model": "omni-moderation-latest", **FAST, **kw})


def guard(policy, srv, **kw) -> LlamaGuard:
    return LlamaGuard(ctx(policy), {"url": srv.url, "model": GUARD_MODEL, **FAST, **kw})


RECORDS = [Record("a", prompt="please answer", output="here is the ATTACKPLAN for Friday"),
           Record("b", prompt="a SLURWORD joke and an ATTACKPLAN", output="no"),
           Record("c", prompt="hello", output="a friendly answer about gardens")]


def scan(scanner, records=RECORDS):
    return sorted((f.record_id, f.field, f.category, f.rule_id, f.scanner, f.scanner_version) for r in records for f in scanner.scan(r))


def test_openai_moderation_maps_categories_to_the_pack(policy, server):
    got = scan(openai(policy, server))
    assert got == [("a", "output", "terrorism_violence", "openai:violence", "openai_moderation", OPENAI_MODEL),
                   ("b", "prompt", "hate_discrimination", "openai:hate", "openai_moderation", OPENAI_MODEL),
                   ("b", "prompt", "terrorism_violence", "openai:violence", "openai_moderation", OPENAI_MODEL)]
    f = openai(policy, server).scan(RECORDS[0])[0]
    assert (f.start, f.end, f.matched, f.score, f.severity) == (0, len(RECORDS[0].output), RECORDS[0].output, 0.97, 5)
    # the threshold option judges by score instead of the endpoint's flags
    assert scan(openai(policy, server, threshold=0.005)).count(("c", "output", "hate_discrimination", "openai:hate,hate/threatening",
                                                              "openai_moderation", OPENAI_MODEL)) == 1


def test_llama_guard_maps_codes_and_judges_the_output_with_its_prompt(policy, server):
    got = scan(guard(policy, server))
    assert got == [("a", "output", "terrorism_violence", "llama_guard:S1", "llama_guard", GUARD_MODEL),
                   ("b", "prompt", "hate_discrimination", "llama_guard:S10", "llama_guard", GUARD_MODEL),
                   ("b", "prompt", "terrorism_violence", "llama_guard:S1", "llama_guard", GUARD_MODEL)]
    convo = [body["messages"] for path, body in server.requests if body["messages"][-1]["content"] == RECORDS[0].output]
    assert convo[0] == [{"role": "user", "content": "please answer"}, {"role": "assistant", "content": RECORDS[0].output}]


def test_500_slow_and_malformed_answers_are_retried(policy, server):
    server.slow_seconds = 1.5
    server.faults = ["500", "slow", "malformed"]
    sc = openai(policy, server, batch_size=100, concurrency=1, retries=3)
    assert scan(sc, RECORDS[:1]) == [("a", "output", "terrorism_violence", "openai:violence", "openai_moderation", OPENAI_MODEL)]
    assert len(server.requests) == 4  # three failures, then the answer
    server.faults = ["garbled"]
    assert [f.category for f in guard(policy, server).scan(RECORDS[0]) if f.field == "output"] == ["terrorism_violence"]


def test_429_waits_for_retry_after(policy, server):
    server.faults, server.retry_after = ["429"], "1"
    t0 = time.monotonic()
    assert len(scan(openai(policy, server, batch_size=100, backoff=0.0), RECORDS[:1])) == 1
    assert time.monotonic() - t0 >= 0.9 and len(server.requests) == 2


def test_retries_run_out_with_an_error_naming_the_endpoint(policy, server):
    server.good_left = 0
    with pytest.raises(ScannerUnavailable) as exc:
        scan(openai(policy, server, retries=1))
    assert f"{server.url}/moderations failed 2 time(s), the last with HTTP 500" in str(exc.value)
    assert "audit resume" in str(exc.value)


def test_a_dead_endpoint_fails_clearly(policy):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    sc = OpenAIModeration(ctx(policy), {"url": f"http://127.0.0.1:{port}/v1", "model": "m", **FAST})
    with pytest.raises(ScannerUnavailable) as exc:
        sc.scan(RECORDS[0])
    assert f"endpoint http://127.0.0.1:{port}/v1/moderations failed 3 time(s)" in str(exc.value) and "cannot connect" in str(exc.value)


def test_a_4xx_is_not_retried_and_says_what_to_check(policy, server):
    sc = OpenAIModeration(ctx(policy), {"url": server.url + "/nowhere", "model": "m", **FAST})
    with pytest.raises(ScannerUnavailable) as exc:
        sc.scan(RECORDS[0])
    assert "HTTP 404" in str(exc.value) and len(server.requests) == 1


def test_rate_limit_spaces_the_requests(policy, server):
    t0 = time.monotonic()
    sc = guard(policy, server, rate_limit=10, concurrency=4)
    texts = [t for r in RECORDS for t in (r.prompt, r.output, "")]
    sc.scan_batch(RECORDS, texts, None)  # 6 conversations at once, at most 10 a second: 0.5 s at least
    assert len(server.requests) == 6 and time.monotonic() - t0 >= 0.49


def test_answers_come_from_the_cache(policy, server):
    class Memory:
        def __init__(self):
            self.data = {}

        def get_many(self, keys):
            return {k: self.data[k] for k in keys if k in self.data}

        def put_many(self, scanner, items):
            self.data.update(items)

    mem = Memory()
    token = RESULT_CACHE.set(mem)
    try:
        first = scan(openai(policy, server))
        asked = len(server.requests)
        assert scan(openai(policy, server)) == first and len(server.requests) == asked  # nothing asked twice
        assert len(mem.data) == 6  # six distinct texts
    finally:
        RESULT_CACHE.reset(token)


def test_an_api_key_comes_from_the_environment(policy, server, monkeypatch):
    with pytest.raises(ValueError, match="ER_TEST_KEY is not set"):
        openai(policy, server, api_key_env="ER_TEST_KEY")
    monkeypatch.setenv("ER_TEST_KEY", "sk-test")
    assert scan(openai(policy, server, api_key_env="ER_TEST_KEY"), RECORDS[2:]) == []


def _section(**extra):
    raw = yaml.safe_load((PACK / "content" / "content_safety.yaml").read_text())
    raw.update(extra)
    return raw


@pytest.mark.parametrize("scanners,message", [
    ([{"use": "openai_moderation", "model": "m"}], "needs url"),
    ([{"use": "llama_guard", "url": "http://h/v1"}], "needs model"),
    ([{"use": "openai_moderation", "url": "http://h/v1", "model": "m", "api_key": "sk-123"}], "never put a key in the pack"),
    ([{"use": "keyword", "timeout": 3}], "takes no option 'timeout'"),
    ([{"use": "keyword"}, {"use": "keyword"}], "listed twice"),
    ([], "at least 1 item"),
    ([{"use": "openai_moderation", "url": "http://h/v1", "model": "m", "batch": 3}], "unknown option 'batch'"),
])
def test_the_scanner_list_is_checked(scanners, message):
    with pytest.raises(ValueError, match=message):
        ContentSafetyPolicy.model_validate(_section(scanners=scanners))


def test_an_unmapped_model_category_is_refused():
    raw = _section(scanners=[{"use": "llama_guard", "url": "http://h/v1", "model": "m"}])
    raw["categories"][-1]["llama_guard"] = []
    raw["categories"][-2]["llama_guard"] = []  # high_stakes_advice had S6, the only one
    with pytest.raises(ValueError, match=r"scanners\[0\] \(llama_guard\): the model's categories S6 map to no pack category"):
        ContentSafetyPolicy.model_validate(raw)


def test_build_resolves_names_and_names_the_entry(policy):
    pol = ContentSafetyPolicy.model_validate(_section(scanners=[{"use": "no_such_model"}]))
    with pytest.raises(ScannerConfigError, match=r"content_safety.scanners\[0\] \(no_such_model\): no scanner named 'no_such_model'; "
                                                  r"known: .*llama_guard.*openai_moderation"):
        build(pol.scanner_uses(), ctx(pol))


def test_absent_list_means_the_configured_builtins(policy):
    assert policy.scanners is None
    assert [u.use for u in policy.scanner_uses()] == ["keyword", "regex", "knowledge_base", "classifier"]
