"""Standards as data: the figures a deployment is held to (``policies/standards/<id>.yaml``).

A pack names its standard in ``content_safety.standard``; ``bank lint`` and ``conformance`` read the figures from
here, so a revision of the standard is a data change. Loading validates every figure and names the file and field
of a bad one.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from review.errors import InvalidInput, NotFound

STANDARDS_DIR = Path(__file__).parent / "standards"
_Strict = ConfigDict(extra="forbid", frozen=True)


class KeywordLibraryFigures(BaseModel):
    model_config = _Strict
    total: int = Field(ge=0)
    per_a1_risk: int = Field(ge=0)
    per_a2_risk: int = Field(ge=0)
    max_age_days: int = Field(ge=1)


class TestBankFigures(BaseModel):
    model_config = _Strict
    generated: int = Field(ge=0)
    should_refuse: int = Field(ge=0)
    must_not_refuse: int = Field(ge=0)
    max_age_days: int = Field(ge=1)


class SpotCheckFigures(BaseModel):
    model_config = _Strict
    manual: int = Field(ge=0)
    keyword: int = Field(ge=0)
    classifier: int = Field(ge=0)
    pass_rate: float = Field(ge=0, le=1)


class RefusalFigures(BaseModel):
    model_config = _Strict
    should_refuse_min: float = Field(ge=0, le=1)
    must_not_refuse_max: float = Field(ge=0, le=1)


class TrainingCorpusFigures(BaseModel):
    model_config = _Strict
    sample: int = Field(ge=0)
    pass_rate: float = Field(ge=0, le=1)
    reject_source_harmful_share: float = Field(ge=0, le=1)


class Standard(BaseModel):
    model_config = _Strict
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    keyword_library: KeywordLibraryFigures
    test_banks: TestBankFigures
    spot_checks: SpotCheckFigures
    refusal: RefusalFigures
    training_corpus: TrainingCorpusFigures


def available_standards() -> list[str]:
    return sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def load_standard(ref: str) -> Standard:
    """A standard by id (``tc260-003``) or by path to its YAML file."""
    path = Path(ref) if ref.endswith((".yaml", ".yml")) else STANDARDS_DIR / f"{ref}.yaml"
    if not path.is_file():
        raise NotFound(f"standard {ref!r}: no {path}; known standards: {', '.join(available_standards()) or 'none'}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not readable YAML ({exc})") from None
    try:
        return Standard.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise InvalidInput(f"{path}: {loc}: value {e.get('input')!r}: {e['msg']} (fix the figure in the file)") from None
