"""Records to scan and the findings scanners report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["safe", "low", "medium", "high"]
FIELDS = ("prompt", "output", "metadata")


def level_of(severity: int) -> Level:
    """Default roll-up (safe 0, low 1-2, medium 3-4, high 5-7); packs may override."""
    if severity <= 0:
        return "safe"
    if severity <= 2:
        return "low"
    if severity <= 4:
        return "medium"
    return "high"


class Record(BaseModel):
    """One generated item: a prompt and output; for image/audio/video the textual metadata
    (captions, transcripts, alt text) is what gets scanned."""

    model_config = ConfigDict(frozen=True)
    id: str
    product: str = ""
    prompt: str = ""
    output: str = ""
    modality: Literal["text", "image", "audio", "video"] = "text"
    metadata: dict[str, Any] = Field(default_factory=dict)

    def field_text(self, field: str) -> str:
        """The text a finding's ``start``/``end`` index into. For ``metadata`` that is the
        string values rendered as ``key: value`` lines, keys sorted."""
        if field == "prompt":
            return self.prompt
        if field == "output":
            return self.output
        if field == "metadata":
            return metadata_text(self.metadata)
        raise ValueError(f"unknown field {field!r}; expected one of {FIELDS}")


def metadata_text(metadata: dict[str, Any]) -> str:
    if not metadata:
        return ""
    return "\n".join(f"{k}: {v}" for k, v in sorted(metadata.items()) if isinstance(v, str) and v)


class Finding(BaseModel):
    """One hit. ``start``/``end`` index the ORIGINAL text of ``field``
    (``Record.field_text(field)[start:end] == matched``)."""

    model_config = ConfigDict(frozen=True)
    record_id: str
    category: str
    subcode: str | None = None
    severity: int = Field(ge=0, le=7)
    level: Level
    scanner: str
    pack_version: str
    field: Literal["prompt", "output", "metadata"]
    start: int
    end: int
    matched: str
    rule_id: str  # keyword term, regex rule id, exemplar id or classifier label
    score: float | None = None

    def key(self) -> tuple:
        """Natural key for idempotent writes (with the run id)."""
        return (self.record_id, self.field, self.scanner, self.start, self.end, self.category)

    def sort_key(self) -> tuple:
        return (FIELDS.index(self.field), self.start, self.end, self.scanner, self.category, self.rule_id)
