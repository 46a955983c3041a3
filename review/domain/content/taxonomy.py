"""Records to scan and the findings scanners report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, NamedTuple


Level = Literal["safe", "low", "medium", "high"]
FieldName = Literal["prompt", "output", "metadata"]
FIELDS: tuple[FieldName, FieldName, FieldName] = ("prompt", "output", "metadata")


def level_of(severity: int) -> Level:
    """Default roll-up (safe 0, low 1-2, medium 3-4, high 5-7); packs may override."""
    if severity <= 0:
        return "safe"
    if severity <= 2:
        return "low"
    if severity <= 4:
        return "medium"
    return "high"


@dataclass(slots=True)
class Record:
    """One generated item: a prompt and output; for image/audio/video the textual metadata
    (captions, transcripts, alt text) is what gets scanned. Treat as immutable.

    A plain slotted dataclass (not frozen: that quadruples construction time): input is
    checked field by field (with file, line and fix) by ``records_io.validate``, the one
    place records come from outside; a second validation per record cost as much as
    folding its text."""

    id: str
    product: str = ""
    prompt: str = ""
    output: str = ""
    modality: Literal["text", "image", "audio", "video"] = "text"
    metadata: dict[str, Any] = field(default_factory=dict)

    def model_dump(self, exclude_defaults: bool = False) -> dict[str, Any]:
        out = {"id": self.id, "product": self.product, "prompt": self.prompt, "output": self.output,
               "modality": self.modality, "metadata": self.metadata}
        if exclude_defaults:
            out = {k: v for k, v in out.items() if k == "id" or v != _RECORD_DEFAULTS[k]}
        return out

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


_RECORD_DEFAULTS = {"product": "", "prompt": "", "output": "", "modality": "text", "metadata": {}}


def metadata_text(metadata: Mapping[str, Any]) -> str:
    if not metadata:
        return ""
    return "\n".join(f"{k}: {v}" for k, v in sorted(metadata.items()) if isinstance(v, str) and v)


class Finding(NamedTuple):
    """One hit. ``start``/``end`` index the ORIGINAL text of ``field``
    (``Record.field_text(field)[start:end] == matched``).

    A named tuple, not a pydantic model: scanners build hundreds per chunk from values that
    are already valid (a validated pack, the scanner's own spans), and validation cost more
    than the rest of the keyword path per finding (measured 1.6 us of ~9 us)."""

    record_id: str
    category: str
    subcode: str | None
    severity: int
    level: Level
    scanner: str
    pack_version: str
    field: FieldName
    start: int
    end: int
    matched: str
    rule_id: str  # keyword term, regex rule id, exemplar id, classifier label or a model's category
    score: float | None = None
    scanner_version: str = ""  # the scanner's version, or the model (as the endpoint reported it) behind its verdict

    def model_dump(self) -> dict[str, Any]:
        return self._asdict()

    def key(self) -> tuple[str, str, str, int, int, str]:
        """Natural key for idempotent writes (with the run id)."""
        return (self.record_id, self.field, self.scanner, self.start, self.end, self.category)

    def sort_key(self) -> tuple[int, int, int, str, str, str]:
        return (FIELDS.index(self.field), self.start, self.end, self.scanner, self.category, self.rule_id)


def add_fields(owners: list[tuple[str, FieldName]], texts: list[str], rid: str, prompt: str, output: str,
               metadata: Mapping[str, Any] | None) -> None:
    """Append a record's non-empty fields (prompt, output, metadata text) for ``KeywordScanner.scan_fields``."""
    if prompt:
        owners.append((rid, "prompt"))
        texts.append(prompt)
    if output:
        owners.append((rid, "output"))
        texts.append(output)
    if metadata:
        meta = metadata_text(metadata)
        if meta:
            owners.append((rid, "metadata"))
            texts.append(meta)
