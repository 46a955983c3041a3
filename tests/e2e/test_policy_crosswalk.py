"""`ethics-review policy crosswalk A B`: the mapping and the gaps as a table, JSON and CSV; a pack's text stays text."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from policies.loader import PACKS_DIR
from review.cli.main import main

HOSTILE = "[bold red]pwned[/] \x1b[31mred\x1b]8;;http://evil.example\x07link\x1b]8;;\x07"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "crosswalk", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_json_and_csv_agree(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "default", "nist-ai-rmf", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["source"]["id"] == "default" and doc["target"]["id"] == "nist-ai-rmf" and doc["obligations"] == 19
    links = {(x["control"], x["obligation"]) for x in doc["links"]}
    gaps = [g["obligation"] for g in doc["gaps"]]
    assert ("HCT-01", "GOVERN-2") in links and ("SAF-03", "MANAGE-4") in links and "GOVERN-6" in gaps
    assert doc["covered"] + len(gaps) == 19 and doc["covered"] == len({o for _, o in links})

    code, out, _ = run(capsys, "default", "nist-ai-rmf", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {(r["control"], r["obligation"]) for r in rows if r["kind"] == "link"} == links
    assert [r["obligation"] for r in rows if r["kind"] == "gap"] == gaps
    assert rows[0]["declared_in"] == "default"

    code, out, _ = run(capsys, "default", "nist-ai-rmf")
    assert code == 0
    assert f"{doc['covered']} of 19 obligations met by a control" in out and "HCT-01" in out and "GOVERN-2" in out
    assert f"Gaps: {len(gaps)} obligation(s) of nist-ai-rmf" in out and "GOVERN-6" in out

    code, out, _ = run(capsys, "nist-ai-rmf", "default", "--json")  # read from the other side: the default pack's declarations
    back = json.loads(out)
    assert {(x["obligation"], x["control"]) for x in back["links"]} == links and back["obligations"] == 37


def test_pack_text_is_plain_text_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    raw = yaml.safe_load((PACKS_DIR / "eu-ai-act" / "pack.yaml").read_text())
    raw["id"] = "hostile"
    for c in raw["controls"]:
        c.pop("maps_to", None)
    raw["controls"][0].update(title=f"=cmd|' {HOSTILE}", maps_to={"iso-42001": ["A.4.6"]})
    (tmp_path / "hostile").mkdir()
    (tmp_path / "hostile" / "pack.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv("ETHICS_REVIEW_POLICY_PATH", str(tmp_path))
    for fmt in ([], ["--json"], ["--format", "csv"]):
        code, out, err = run(capsys, "hostile", "iso-42001", *fmt)
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out and "[bold red]pwned[/]" in out  # markup shown, not applied
        assert "\\x1b[31m" in out or "\\u001b[31m" in out
    code, out, _ = run(capsys, "hostile", "iso-42001", "--format", "csv")
    assert next(csv.DictReader(io.StringIO(out)))["control_title"].startswith("'=cmd")


def test_an_unknown_pack_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "default", "nist-csf")
    assert code != 0 and not out and "policy pack 'nist-csf' not found; available:" in err and "iso-42001" in err


def test_show_lists_the_obligations_a_verified_control_meets(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.e2e.test_cli import Cli, product_file

    monkeypatch.setenv("ETHICS_REVIEW_HOME", str(tmp_path / "home"))
    cli = Cli(f"sqlite:///{tmp_path / 'cli.db'}", capsys)
    assert cli("init", "--admin", "admin")[0] == 0
    for name, team, roles in [("wei.chen", "ethics-committee", "chair,reviewer"), ("priya.nair", "ethics-committee", "reviewer"),
                              ("geo.lead", "geo-insight", "submitter")]:
        assert cli("user", "add", name, "--team", team, "--role", roles, user="admin")[0] == 0
    rid = str(cli.ok("submit", str(product_file(tmp_path)), user="geo.lead")["id"])
    cli.ok("assign", rid, "priya.nair", user="wei.chen")
    cli.ok("decide", rid, "approve", "--rationale", "fine", user="priya.nair")
    cli.ok("advance", rid, user="geo.lead")
    code, out, _ = cli("show", rid, user="wei.chen")
    assert code == 0 and "Obligations met in other frameworks" not in out  # nothing verified yet
    evidence = tmp_path / "raci.md"
    evidence.write_text("owner: geo lead")
    cli.ok("evidence", "add", rid, "HCT-01", str(evidence), user="geo.lead")
    cli.ok("verify", rid, "HCT-01", "pass", user="priya.nair")
    code, out, _ = cli("show", rid, user="wei.chen")
    assert code == 0 and "Obligations met in other frameworks by verified evidence" in out
    assert "nist-ai-rmf 1/19" in out and "GOVERN-2" in out and "iso-42001 1/38" in out and "A.3.2" in out


def test_canada_aia_maps_its_obligations_where_they_correspond(capsys: pytest.CaptureFixture[str]) -> None:
    """canada-aia declares its crosswalks: the Directive's obligations meet NIST AI RMF, EU AI Act and ISO/IEC 42001
    obligations that ask for the same thing, and leave the rest as gaps (nothing claimed for a GBA Plus in the EU)."""
    code, out, err = run(capsys, "canada-aia", "nist-ai-rmf", "--json")
    assert code == 0, err
    doc = json.loads(out)
    links = {(x["control"], x["obligation"]) for x in doc["links"]}
    assert {("AIA-TESTING", "MEASURE-2"), ("AIA-HIGHEST-APPROVAL", "MANAGE-1"), ("AIA-TRAINING", "GOVERN-2"),
            ("AIA-GBA-PLUS", "MAP-5"), ("AIA-LEGAL", "GOVERN-1")} <= links
    assert all(x["declared_in"] == ["canada-aia"] for x in doc["links"])
    assert "GOVERN-6" in [g["obligation"] for g in doc["gaps"]]  # the AIA asks nothing of third-party supply chains
    code, out, _ = run(capsys, "canada-aia", "nist-ai-rmf")
    assert code == 0 and "AIA-HIGHEST-APPROVAL" in out and "MANAGE-1" in out

    eu = {(x["control"], x["obligation"]) for x in json.loads(run(capsys, "canada-aia", "eu-ai-act", "--json")[1])["links"]}
    assert {("AIA-HUMAN-IN-LOOP", "ART14-HO"), ("AIA-DATA-QUALITY", "ART10-DATA"), ("AIA-TRAINING", "ART4-LIT")} <= eu
    assert not {o for c, o in eu if c == "AIA-GBA-PLUS"}  # a GBA Plus is not a fundamental rights impact assessment
    iso = {(x["control"], x["obligation"]) for x in json.loads(run(capsys, "canada-aia", "iso-42001", "--json")[1])["links"]}
    assert {("AIA-GBA-PLUS", "A.5.4"), ("AIA-DATA-QUALITY", "A.7.4"), ("AIA-STAFF-DOCS", "A.8.2")} <= iso
    # read from the other side: the same links, declared in canada-aia
    back = json.loads(run(capsys, "nist-ai-rmf", "canada-aia", "--json")[1])
    assert {(x["obligation"], x["control"]) for x in back["links"]} == links
