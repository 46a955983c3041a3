"""``policy keywords import`` and ``policy keywords stats`` from the command line, on SQLite and PostgreSQL, on a
copy of the default pack (the shipped pack is never touched): the files written, the version bump, the trail
entry, the dry run, and every kind of bad input leaving the files and the database as they were."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from policies.loader import PACKS_DIR, load_pack
from review.cli.main import main
from review.services import audit
from review.store.db import Database
from tests.integration.pack_helpers import cli, copy_default_pack, pack_files, trail_rows
from review.store.models import AuditLog

CSV = ("term,category,severity\n"
       "zorbflex grenade,weapons,6\n"        # new
       "Pipe-Bomb,weapons,7\n"               # already there as "pipe bomb"
       "heroin,weapons,5\n"                  # collision: illegal_cyber holds it
       "ransomwear kit,illegal_cyber,\n"     # new
       "ransomwar,illegal_cyber,5\n"         # new, one edit from "ransomware"
       "[b]boom[/b] device,A.4.1,4\n"        # new, self_harm by its TC260 risk; markup is text
       "[B]BOOM[/B] device,self_harm,4\n")   # duplicate of the line before


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return copy_default_pack(tmp_path)





def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return f


def test_import_writes_bumps_the_version_and_goes_on_the_trail(people: Database, pack: Path, tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(people.data_dir))  # the CLI signs the trail with the fixture's audit key
    src = _write(tmp_path, "new.csv", CSV)
    before = pack_files(pack)
    rows = trail_rows(people)
    code, out, err = cli(people, capsys, "policy", "keywords", "import", str(src), "--pack", str(pack))
    assert code == 0, err
    assert "7 term(s) read; 4 new (weapons 1, illegal_cyber 2, self_harm 1); 2 already in the library or the file; 1 collision(s)" in out
    assert "[b]boom[/b] device" in out and "[B]BOOM[/B] device" in out  # printed as written, not as markup
    assert "ransomware" in out and "one edit apart" in out
    assert "pack default: 1.1.0 -> 1.1.1" in out

    after = pack_files(pack)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"pack.yaml", "content/keywords/weapons.txt", "content/keywords/illegal_cyber.txt", "content/keywords/self_harm.txt"}
    assert after["pack.yaml"] == before["pack.yaml"].replace(b'version: "1.1.0"', b'version: "1.1.1"')
    assert after["content/keywords/weapons.txt"].startswith(before["content/keywords/weapons.txt"])
    assert after["content/keywords/weapons.txt"].endswith(b"zorbflex grenade\t6\n")
    assert after["content/keywords/illegal_cyber.txt"].endswith(b"ransomwear kit\nransomwar\t5\n")

    lp = load_pack(pack)
    from policies.content_schema import load_content_library

    lib = load_content_library(lp.content_policy, lp.directory)
    assert lp.version == "1.1.1"
    assert {(k.term, k.category, k.severity) for k in lib.keywords} >= {
        ("zorbflex grenade", "weapons", 6), ("ransomwar", "illegal_cyber", 5), ("[b]boom[/b] device", "self_harm", 4)}
    assert sum(k.term == "heroin" for k in lib.keywords) == 1  # the collision was not added

    from review.domain.content.engine import ContentFilter
    from review.domain.content.normalize import canonical_term
    from review.domain.content.taxonomy import Record

    filt = ContentFilter.from_policy(lp.content_policy, lib, lp.version, lp.content_hash, scanners=["keyword"])
    found = filt.scan_many([Record(id="r1", product="p", prompt="", output="how to build a Zorbflex-Grenade at home")])
    assert ("Zorbflex-Grenade", "weapons", 6) in [(f.matched, f.category, f.severity) for f in found]  # the grown library runs

    assert trail_rows(people) == rows + 1
    with people.reading() as s:
        row = s.exec(select(AuditLog).order_by(col(AuditLog.id).desc())).first()
    assert row is not None
    assert (row.actor, row.action, row.entity, row.entity_id, row.policy_version) == ("admin", "policy-keywords-import", "policy_pack",
                                                                                        "default", "1.1.1")
    assert row.before == {"version": "1.1.0", "hash": load_pack(PACKS_DIR / "default").content_hash}
    assert row.after["hash"] == lp.content_hash and row.after["added"] == {"weapons": 1, "illegal_cyber": 2, "self_harm": 1}
    assert row.after["file"] == "new.csv" and row.after["collisions"] == 1 and row.after["duplicates"] == 2
    assert audit.verify_chain(people).ok

    # the same file again: nothing new, nothing written, no trail entry
    code, out, _ = cli(people, capsys, "--json", "policy", "keywords", "import", str(src), "--pack", str(pack))
    rep = json.loads(out)
    assert code == 0 and rep["added"] == 0 and rep["version_after"] is None and len(rep["duplicates"]) == 6
    assert pack_files(pack) == after and trail_rows(people) == rows + 1

    # stats count the grown library, each term once
    code, out, err = cli(people, capsys, "--json", "policy", "keywords", "stats", str(pack))
    st = json.loads(out)
    risks = {r["risk"]: r for r in st["risks"]}
    assert code == 0 and st["version"] == "1.1.1" and len(risks) == 31 and "counted once" in st["rule"]
    assert st["terms"] == sum(r["terms"] for r in st["risks"]) == len({canonical_term(k.term) for k in lib.keywords})
    assert risks["A.4.1"]["terms"] == sum(k.category == "self_harm" for k in lib.keywords)
    assert risks["A.1.8"]["categories"] == ["illegal_cyber", "weapons"] and risks["A.1.8"]["minimum"] == 200
    code, out, _ = cli(people, capsys, "policy", "keywords", "stats", str(pack), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(table) == 31 and table[0]["risk"] == "A.1.1" and table[0]["short"] == "true"
    code, out, _ = cli(people, capsys, "policy", "keywords", "stats", str(pack))
    assert code == 0 and "counting: each term is counted once" in out and "A.2.5" in out


def test_dry_run_reports_and_writes_nothing(people: Database, pack: Path, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path, "new.csv", CSV)
    before, rows = pack_files(pack), trail_rows(people)
    code, out, err = cli(people, capsys, "--json", "policy", "keywords", "import", str(src), "--pack", str(pack), "--dry-run")
    rep = json.loads(out)
    assert code == 0, err
    assert rep["dry_run"] and rep["added"] == 4 and rep["version_after"] is None and rep["written"] == []
    assert [c["existing_category"] for c in rep["collisions"]] == ["illegal_cyber"]
    assert any(n["term"] == "ransomwar" and n["near"][0]["term"] == "ransomware" for n in rep["near_duplicates"])
    code, out, _ = cli(people, capsys, "policy", "keywords", "import", str(src), "--pack", str(pack), "--dry-run")
    assert code == 0 and "dry run: nothing written; pack default stays at 1.1.0" in out
    assert pack_files(pack) == before and trail_rows(people) == rows


@pytest.mark.parametrize("name,content,extra,code,message", [
    ("a.txt", "zorbflex\n", ["--category", "bogus"], 2, "--category: 'bogus' is not a category of this pack; use one of political"),
    ("a.txt", "zorbflex\n", ["--category", "weapons", "--pack", "no-such-pack"], 3, "policy pack 'no-such-pack' not found"),
    ("a.csv", "word,category\nzorbflex,weapons\n", [], 2, "a.csv:1: header 'word, category': unknown column 'word'"),
    ("a.csv", "term,category,severity\nzorbflex,weapons,3\nquuxbomb,weapons,8\n", [], 2,
     "a.csv:3: field severity '8' for 'quuxbomb' must be an integer 0-7"),
    ("a.csv", "term,category\nzorbflex,weapons\n,weapons\n", [], 2, "a.csv:3: field term is empty; fill it in or remove the row"),
    ("a.txt", "zorbflex\ncaf\xe9 bomb\n".encode("latin-1"), ["--category", "weapons"], 2, "a.txt:2: not UTF-8 (byte 0xe9 at column 4)"),
    ("a.csv", "term,category\nzorbflex,nonsense\n", [], 2, "a.csv:2: field category: 'nonsense' is not a category of this pack"),
])
def test_bad_input_changes_nothing(people: Database, pack: Path, tmp_path: Path, capsys, name, content, extra, code, message) -> None:
    src = _write(tmp_path, name, content)
    before, rows = pack_files(pack), trail_rows(people)
    args = ["policy", "keywords", "import", str(src), *extra]
    if "--pack" not in extra:
        args += ["--pack", str(pack)]
    got, out, err = cli(people, capsys, *args)
    assert got == code, (out, err)
    assert message in err
    assert pack_files(pack) == before and trail_rows(people) == rows


def test_only_a_chair_or_an_admin_imports(people: Database, pack: Path, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path, "a.txt", "zorbflex grenade\n")
    before, rows = pack_files(pack), trail_rows(people)
    code, _, err = cli(people, capsys, "policy", "keywords", "import", str(src), "--pack", str(pack), "--category", "weapons",
                        user="priya.nair")
    assert code == 4 and "change a policy pack's keyword library" in err
    assert pack_files(pack) == before and trail_rows(people) == rows
    code, out, err = cli(people, capsys, "policy", "keywords", "import", str(src), "--pack", str(pack), "--category", "weapons",
                          user="wei.chen")
    assert code == 0 and "1.1.0 -> 1.1.1" in out, err


def test_a_failure_after_the_files_are_written_puts_them_back(people: Database, pack: Path, tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    """The trail entry fails (as a full disk would): the use case rolls back and the files are restored."""
    from review.errors import ReviewError
    from review.services import pack_files as pack_change

    def failing_record(*_a, **_k):
        assert b"1.1.1" in (pack / "pack.yaml").read_bytes()  # the files were already replaced
        raise ReviewError("the audit trail could not be written")

    src = _write(tmp_path, "a.txt", "zorbflex grenade\n")
    before, rows = pack_files(pack), trail_rows(people)
    monkeypatch.setattr(pack_change.audit, "record", failing_record)
    code, _, err = cli(people, capsys, "policy", "keywords", "import", str(src), "--pack", str(pack), "--category", "weapons")
    assert code == 2 and "could not be written" in err
    assert pack_files(pack) == before and trail_rows(people) == rows
    assert load_pack(pack).version == "1.1.0"


def test_bench_keywords_imports_into_a_copy_and_prints_one_json_line(capsys) -> None:
    shipped = pack_files(PACKS_DIR / "default")
    assert main(["bench", "keywords", "--terms", "300", "--scan-items", "40"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["read"] == 300 and last["added"] + last["skipped"] == 300 and last["version"] == "1.1.0 -> 1.1.1"
    assert last["library_terms"] > 294 and last["import_s"] >= 0 and last["scan_mb_s"] > 0
    assert pack_files(PACKS_DIR / "default") == shipped  # the shipped pack is untouched
