"""AIGC content-safety engine: normalized match view, keyword/regex/knowledge-base/classifier
scanners, the batch ``ContentFilter``, and benchmark helpers. Pure Python plus native
matchers (hyperscan, ahocorasick_rs); no database, no framework imports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for the type checker; imported on first use at run time
    from review.domain.content.engine import ContentFilter
    from review.domain.content.taxonomy import Finding, Record

__all__ = ["ContentFilter", "Finding", "Record"]


def __getattr__(name: str) -> Any:  # lazy, so importing a submodule stays cheap
    if name == "ContentFilter":
        from review.domain.content.engine import ContentFilter

        return ContentFilter
    if name in ("Finding", "Record"):
        from review.domain.content import taxonomy

        return getattr(taxonomy, name)
    raise AttributeError(name)
