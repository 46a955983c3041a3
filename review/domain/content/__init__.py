"""AIGC content-safety engine: normalized match view, keyword/regex/knowledge-base/classifier
scanners, the batch ``ContentFilter``, and benchmark helpers. Pure Python plus native
matchers (hyperscan, ahocorasick_rs); no database, no framework imports."""

from __future__ import annotations

__all__ = ["ContentFilter", "Finding", "Record"]


def __getattr__(name: str):  # lazy, so importing a submodule stays cheap
    if name == "ContentFilter":
        from review.domain.content.engine import ContentFilter

        return ContentFilter
    if name in ("Finding", "Record"):
        from review.domain.content import taxonomy

        return getattr(taxonomy, name)
    raise AttributeError(name)
