import copy

import pytest
import yaml
from pydantic import ValidationError

from policies.content_schema import ContentLibraryError, ContentSafetyPolicy, lint_library, load_content_library
from pathlib import Path

PACK = Path(__file__).resolve().parents[3] / "policies" / "packs" / "default"


def _raw():
    return yaml.safe_load((PACK / "content" / "content_safety.yaml").read_text())


def test_default_section_valid_and_files_listed(policy):
    files = policy.referenced_files()
    assert "content/allow_list.txt" in files and all(not f.startswith("/") for f in files)
    assert all((PACK / f).is_file() for f in files)
    assert policy.level_of(0) == "safe" and policy.level_of(2) == "low" and policy.level_of(4) == "medium" and policy.level_of(7) == "high"
    assert len(policy.categories) == 14


@pytest.mark.parametrize("mutate,path", [
    (lambda r: r["categories"][3].__setitem__("default_severity", 9), ("categories", 3, "default_severity")),
    (lambda r: r["regex_rules"][0].__setitem__("severity", "high"), ("regex_rules", 0, "severity")),
    (lambda r: r.__setitem__("bogus", 1), ("bogus",)),
    (lambda r: r["sampling"].__setitem__("pass_threshold", 1.5), ("sampling", "pass_threshold")),
])
def test_bad_section_names_field_path(mutate, path):
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(ValidationError) as exc:
        ContentSafetyPolicy.model_validate(raw)
    assert exc.value.errors()[0]["loc"] == path


def test_unknown_tc260_code_rejected():
    raw = copy.deepcopy(_raw())
    raw["categories"][0]["tc260"] = ["A.9.9"]
    with pytest.raises(ValidationError, match="A.9.9"):
        ContentSafetyPolicy.model_validate(raw)


def test_bad_keyword_line_names_file_and_line(tmp_path):
    (tmp_path / "kw.txt").write_text("# header\nfine term\nbad term\tnine\n", encoding="utf-8")
    raw = {"categories": [{"code": "x", "title": "x", "tc260": ["A.1.8"], "keywords": "kw.txt"}]}
    policy = ContentSafetyPolicy.model_validate(raw)
    with pytest.raises(ContentLibraryError, match=r"kw\.txt:3: severity 'nine'"):
        load_content_library(policy, tmp_path)


def test_lint_reports_shortfalls(policy, library):
    issues = lint_library(policy, library)
    msgs = {i.scope: i.message for i in issues}
    assert msgs["total"].startswith(f"total: {len({k.term.casefold() for k in library.keywords})} keywords, needs 10000")
    assert "A.1.4" in msgs and msgs["A.1.4"].endswith("needs 200")
    assert "A.2.5" in msgs and msgs["A.2.5"].endswith("needs 100")
    assert not any(i.scope.startswith("A.3") for i in issues)
