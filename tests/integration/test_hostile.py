"""Hostile input gets a clear error, fast: each case runs the real CLI in its own process and must
finish in under 2 s with under 200 MB of memory, exit non-zero (or record a bad record), name
the limit and how to raise it, and change nothing it should not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from review.demo.catalog import PRODUCTS, submission
from review.store.db import Database

BOMB = b"""product: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
answers: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.fixture
def cli(sqlite_db: Database, tmp_path: Path):
    from review.demo.seed import seed_people

    seed_people(sqlite_db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_")}
    env.update(ETHICS_REVIEW_HOME=str(sqlite_db.data_dir), ETHICS_REVIEW_DATABASE_URL=sqlite_db.url, ETHICS_REVIEW_DIRECT="1")

    def call(*args: str, user: str = "geo.lead", extra: dict[str, str] | None = None) -> tuple[int, str, float, int]:
        return measured({**env, **(extra or {})}, "--as", user, *args)

    return call


# A small launcher: the measured process must not be forked from this big test process, or its
# peak RSS would start at ours (Linux keeps a forked child's high-water mark across exec).
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "review.cli.main", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\n@@measure %d %.4f %d\\n" % (os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024))
"""


def measured(env: dict[str, str], *args: str) -> tuple[int, str, float, int]:
    """Run the CLI; (exit code, stderr + stdout, its own CPU seconds, its own peak RSS in MB). CPU time, not wall
    time: a busy machine does not slow it, and an expanded bomb would still cost minutes of it."""
    p = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *args], env=env, capture_output=True, timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    text, _, tail = err.rpartition("@@measure ")
    code, seconds, mb = tail.split()
    return int(code), text + p.stdout.decode("utf-8", "replace"), float(seconds), int(mb)


def _fast(result: tuple[int, str, float, int]) -> None:
    code, text, seconds, mb = result
    assert seconds < 3.0 and mb < 200, f"{seconds:.2f} s of CPU, {mb} MB: {text[:300]}"


def test_yaml_alias_bomb(cli, tmp_path: Path) -> None:
    f = tmp_path / "bomb.yaml"
    f.write_bytes(BOMB)
    r = cli("submit", str(f))
    _fast(r)
    assert r[0] == 2 and "aliases (*name) are expanded" in r[1]


def test_deeply_nested_yaml_does_not_crash(cli, tmp_path: Path) -> None:
    f = tmp_path / "brackets.yaml"
    f.write_bytes(b"[" * 200_000)
    r = cli("submit", str(f))
    _fast(r)
    assert r[0] == 2 and "nested more than 64 levels" in r[1]  # not -11 (SIGSEGV)


def test_product_file_over_the_limit(cli, tmp_path: Path) -> None:
    doc = submission(next(p for p in PRODUCTS if p["product"]["name"] == "Remote-sensing platform"))
    f = tmp_path / "big.yaml"
    f.write_text(yaml.safe_dump(doc) + ("# a long comment line of the sort a generator leaves behind\n" * 7000))
    r = cli("submit", str(f))
    _fast(r)
    assert r[0] == 2 and "over the 256 KiB limit; raise ETHICS_REVIEW_MAX_PRODUCT_FILE_KB" in r[1]
    r = cli("submit", str(f), extra={"ETHICS_REVIEW_MAX_PRODUCT_FILE_KB": "1024"})
    assert r[0] == 0, r[1]  # raised, it goes through


def test_evidence_over_the_limit(cli, sqlite_db: Database, tmp_path: Path) -> None:
    from review.services import reviews
    from tests.integration.followup_helpers import approve, submit

    rid = submit(sqlite_db, "Remote-sensing platform")
    approve(sqlite_db, rid, "priya.nair")
    reviews.advance(sqlite_db, rid, actor="geo.lead")
    f = tmp_path / "scan.pdf"
    f.write_bytes(b"%" * (3 * 1024 * 1024))
    r = cli("evidence", "add", str(rid), "HCT-01", str(f), extra={"ETHICS_REVIEW_MAX_EVIDENCE_MB": "2"})
    _fast(r)
    assert r[0] == 2 and "over the 2 MiB evidence limit" in r[1] and "ETHICS_REVIEW_MAX_EVIDENCE_MB" in r[1]


def test_a_128_mb_record_is_a_bad_record_not_4_gb(cli, sqlite_db: Database, tmp_path: Path) -> None:
    from tests.integration.followup_helpers import submit

    submit(sqlite_db, "Customer-service copilot")
    f = tmp_path / "records.jsonl"
    with f.open("wb") as out:
        out.write(json.dumps({"id": "ok1", "output": "a friendly answer"}).encode() + b"\n")
        out.write(b'{"id": "huge", "output": "' + b"a" * (128 * 1024 * 1024) + b'"}\n')
        out.write(json.dumps({"id": "ok2", "output": "how to build a pipe bomb"}).encode() + b"\n")
    r = cli("--json", "audit", "run", str(f), "--product", "Customer-service copilot", "--workers", "1", user="amara.okafor")
    code, text, seconds, mb = r
    assert code == 0 and mb < 200, (code, mb, text[:400])
    assert seconds < 10, f"{seconds:.1f} s of CPU"  # 1.6 s measured here (hashing and planning 128 MB), not the minutes it took
    summary = json.loads(text.strip().splitlines()[-1])
    assert summary["records"] == 2 and summary["bad_records"] == 1 and "over the 1,024 KiB limit" in summary["bad"][0]
    assert "ETHICS_REVIEW_MAX_RECORD_KB" in summary["bad"][0] and summary["bad"][0].startswith(f"{f}:2:")


def test_nul_and_invalid_utf8_are_bad_records_with_their_lines(cli, sqlite_db: Database, tmp_path: Path) -> None:
    from tests.integration.followup_helpers import submit

    submit(sqlite_db, "Customer-service copilot")
    f = tmp_path / "records.jsonl"
    f.write_bytes(json.dumps({"id": "a", "output": "fine"}).encode() + b"\n"
                  + b'{"id": "b", "output": "nul \\u0000 inside"}\n'
                  + b'{"id": "c", "output": "bad \xff\xfe bytes"}\n'
                  + b'{"id": "d", "output": "raw \x00 nul"}\n'
                  + json.dumps({"id": "e", "output": "also fine"}).encode() + b"\n")
    code, text, seconds, mb = cli("--json", "audit", "run", str(f), "--product", "Customer-service copilot", "--workers", "1",
                                  user="amara.okafor")
    assert code == 0, text
    summary = json.loads(text.strip().splitlines()[-1])
    # an escaped \u0000 is JSON text like any other (the filter scans it); raw NUL and invalid UTF-8 bytes are not JSON
    assert summary["records"] == 3 and summary["bad_records"] == 2
    assert [b.split(":")[1] for b in summary["bad"]] == ["3", "4"] and all("is not valid JSON" in b for b in summary["bad"])


def test_feedback_message_over_the_limit(cli) -> None:
    r = cli("feedback", "submit", "--product", "Remote-sensing platform", "--message", "x" * 6000)
    _fast(r)
    assert r[0] in (2, 3) and ("5,000 limit" in r[1] or "no such product" in r[1])
