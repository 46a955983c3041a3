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
