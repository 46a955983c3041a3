"""Multi-pattern keyword matching on the match view, with a Hyperscan batch prefilter.

Two layers:

* ``KeywordSet`` is the source of truth: library terms canonicalized with the match-view
  folds, one ahocorasick_rs automaton over them, Latin word-boundary checks (term "ass"
  never fires inside "class"; CJK terms match anywhere) and allow-list suppression; spans
  are mapped back to the original text.
* ``Prefilter`` (Hyperscan) scans a whole chunk of raw texts as one UTF-8 buffer and says
  which texts may hold a hit. Its patterns are a superset of what ``KeywordSet`` can match
  on the view: each term as written and in canonical form (caseless, ``[il]`` for the merged
  letter, Traditional/compat variants spelled out for CJK characters), plus flag patterns
  for characters that fold into Latin (homoglyphs, full width, zero-width, bidi), for
  spaced-out single letters and for leetspeak inside a word. Only flagged texts are folded
  and verified, and the flags tell the view which steps it can skip. Extra regex patterns
  (rules) ride along in the same scan (HS_FLAG_PREFILTER, verified by Python ``re``).

Engine choice: ``hyperscan`` (default when importable) or ``ahocorasick`` (verify every
text); force with ``engine=`` or the env var ``ETHICS_REVIEW_MATCHER``.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_right
from dataclasses import dataclass

import ahocorasick_rs

from review.domain.content.normalize import ALNUM, SEP_ASCII, canonical_term, match_view, tables

try:  # optional native engine
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the platform
    _hs = None

ENV_ENGINE = "ETHICS_REVIEW_MATCHER"
RECORD_SEP = "\x00"


def pick_engine(engine: str | None = None) -> str:
    """``hyperscan`` if available (faster), else ``ahocorasick``; env var or arg wins."""
    choice = (engine or os.environ.get(ENV_ENGINE) or "").strip().lower()
    if choice in ("", "auto"):
        return "hyperscan" if _hs is not None else "ahocorasick"
    if choice not in ("hyperscan", "ahocorasick"):
        raise ValueError(f"{ENV_ENGINE}={choice!r}: expected 'hyperscan', 'ahocorasick' or 'auto'")
    if choice == "hyperscan" and _hs is None:
        raise ValueError("hyperscan was requested but the hyperscan module is not importable")
    return choice


@dataclass(frozen=True)
class Term:
    term: str  # as written in the library
    canon: str
    category: str
    subcode: str | None
    severity: int


@dataclass(frozen=True)
class Hit:
    start: int  # original text offsets
    end: int
    term: Term


class KeywordSet:
    """Canonical keyword matcher over the match view (exact spans, boundaries, allow-list)."""

    def __init__(self, terms: list[Term], allow_list: list[str] = ()):  # type: ignore[assignment]
        by_canon: dict[str, list[Term]] = {}
        for t in terms:
            if not t.canon:
                continue
            group = by_canon.setdefault(t.canon, [])
            if all(g.category != t.category for g in group):
                group.append(t)
            else:  # same canonical form twice in one category: keep the higher severity
                for k, g in enumerate(group):
                    if g.category == t.category and t.severity > g.severity:
                        group[k] = t
        self.canons = sorted(by_canon)
        self.groups = [by_canon[c] for c in self.canons]
        self.latin_left = [c[0] in ALNUM for c in self.canons]
        self.latin_right = [c[-1] in ALNUM for c in self.canons]
        self._ac = ahocorasick_rs.AhoCorasick(self.canons) if self.canons else None
        allow = sorted({a for a in (canonical_term(x) for x in allow_list) if a})
        self.allow = allow
        self._allow_ac = ahocorasick_rs.AhoCorasick(allow) if allow else None

    @staticmethod
    def _bounded(view: str, s: int, e: int, left: bool, right: bool, joints=frozenset()) -> bool:
        # A removed separator counts as a word boundary: in "I k i l l" the spaced run
        # swallows the "I", and the term must still be found.
        if left and s > 0 and view[s - 1] in ALNUM and s not in joints:
            return False
        if right and e < len(view) and view[e] in ALNUM and e not in joints:
            return False
        return True

    def find(self, text: str, hints: set[str] | None = None) -> list[Hit]:
        """Every library term in ``text`` (original spans), sorted, allow-list applied.
        ``hints``: prefilter tags for this text (same result, less work)."""
        if self._ac is None or not text:
            return []
        view = match_view(text, hints)
        v = view.text
        raw = self._ac.find_matches_as_indexes(v, overlapping=True)
        if not raw:
            return []
        allowed: list[tuple[int, int]] = []
        if self._allow_ac is not None:
            for pid, s, e in self._allow_ac.find_matches_as_indexes(v, overlapping=True):
                a = self.allow[pid]
                if self._bounded(v, s, e, a[0] in ALNUM, a[-1] in ALNUM):
                    allowed.append((s, e))
        hits: list[Hit] = []
        for pid, s, e in raw:
            if not self._bounded(v, s, e, self.latin_left[pid], self.latin_right[pid], view.joints):
                continue
            if any(a <= s and e <= b for a, b in allowed):
                continue
            os_, oe = view.span(s, e)
            for t in self.groups[pid]:
                hits.append(Hit(os_, oe, t))
        hits.sort(key=lambda h: (h.start, h.end, h.term.category, h.term.canon))
        return hits


# ---------------------------------------------------------------- Hyperscan prefilter



def _esc_bytes(ch: str) -> str:
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8"))


def _alts(chars) -> str:
    chars = sorted(set(chars))
    if len(chars) == 1:
        return _esc_bytes(chars[0])
    return "(?:" + "|".join(_esc_bytes(c) for c in chars) + ")"


def _hs_spell(folded: str) -> str:
    inverse = tables().inverse
    parts: list[str] = []
    for ch in folded:
        if ch == "i":  # the view merges l and i
            parts.append("[il]")
        elif ch.isascii():
            parts.append(_esc_bytes(ch))
        else:  # Traditional / compatibility variants that fold one-to-one into ch
            parts.append(_alts({ch} | set(inverse.get(ch, ()))))
    return "".join(parts)


def hs_term_patterns(term: str, canon: str) -> list[str]:
    """Byte-level patterns (matched caseless, no word boundaries: the verifier checks
    those) for the term as written and for its canonical form; leet, homoglyph, spaced and
    zero-width spellings are caught by the dedicated flag patterns instead."""
    base = term.strip().translate(tables().one)
    return sorted({_hs_spell(base), _hs_spell(canon)})


def _leet_pattern() -> str:
    """A leetspeak run inside a Latin word: between letters, or opening/closing a word of
    at least two letters (what the view folds for realistic terms of >= 3 characters)."""
    leet = "[0134579@$!|]+"
    lw = "[A-Za-z013457@$!|]"
    return (f"[A-Za-z]{leet}[A-Za-z]|(?:^|[^A-Za-z0-9]){leet}[A-Za-z]{lw}"
            f"|{lw}[A-Za-z]{leet}(?:[^A-Za-z0-9]|$)")


def _char_class_utf8(chars) -> str:
    return "[" + "".join(_class_items(chars)) + "]"


def _class_items(chars) -> list[str]:
    cps = sorted(ord(c) for c in chars)
    out: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        out.append(f"\\x{{{cps[i]:x}}}" if i == j else f"\\x{{{cps[i]:x}}}-\\x{{{cps[j]:x}}}")
        i = j + 1
    return out


def _spaced_pattern() -> str:
    tok = "[A-Za-z0-9@$!|]"
    sep_chars = set(SEP_ASCII) | set(tables().nonascii_sep)
    sep = _char_class_utf8(sep_chars)
    return f"(?:^|[^A-Za-z0-9@$!|]){tok}(?:{sep}{{1,3}}{tok}){{2}}(?:[^A-Za-z0-9@$!|]|$)"


TAG_KEYWORD = "kw"
TAG_SUSPICIOUS = "sus"
TAG_SPACED = "spaced"
TAG_LEET = "leet"
KEYWORD_TAGS = frozenset({TAG_KEYWORD, TAG_SUSPICIOUS, TAG_SPACED, TAG_LEET})


class Prefilter:
    """One Hyperscan database per (pack hash): keyword superset patterns + extra regexes.

    ``scan(texts)`` returns, per text index, the set of tags that fired: ``"kw"`` for a
    possible keyword hit, or the tag of an extra pattern (e.g. ``"rule:email"``)."""

    def __init__(self, terms: list[Term], extra: dict[str, str]):
        if _hs is None:  # pragma: no cover
            raise RuntimeError("hyperscan is not importable")
        exprs: list[bytes] = []
        flags: list[int] = []
        self.tags: list[str] = []
        base = _hs.HS_FLAG_CASELESS
        spelled = sorted({p for t in terms if t.canon for p in hs_term_patterns(t.term, t.canon)})
        for p in spelled:
            exprs.append(p.encode("ascii"))
            flags.append(base)
            self.tags.append(TAG_KEYWORD)
        items = _class_items(tables().suspicious)  # incl. Traditional-only characters
        for k in range(0, len(items), 400):  # Hyperscan caps the pattern length
            exprs.append(("[" + "".join(items[k:k + 400]) + "]").encode("ascii"))
            flags.append(_hs.HS_FLAG_UTF8)
            self.tags.append(TAG_SUSPICIOUS)
        exprs.append(_spaced_pattern().encode("ascii"))
        flags.append(_hs.HS_FLAG_UTF8)
        self.tags.append(TAG_SPACED)
        exprs.append(_leet_pattern().encode("ascii"))
        flags.append(0)
        self.tags.append(TAG_LEET)
        self.unsupported: dict[str, str] = {}
        for tag, pattern in extra.items():
            try:  # check alone first so one bad rule cannot sink the whole database
                _hs.Database().compile(expressions=[pattern.encode()], flags=_hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_UTF8)
            except _hs.error:
                self.unsupported[tag] = pattern
                continue
            exprs.append(pattern.encode())
            flags.append(_hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_UTF8)
            self.tags.append(tag)
        self._db = _hs.Database()
        self._db.compile(expressions=exprs, ids=list(range(len(exprs))), flags=flags)
        self._lock = threading.Lock()  # one scratch space per database: scan one at a time

    def scan(self, texts: list[str]) -> dict[int, set[str]]:
        if not texts:
            return {}
        joined = RECORD_SEP.join(texts)
        if joined.count(RECORD_SEP) != len(texts) - 1:  # a text carries a NUL: neutralize it
            joined = RECORD_SEP.join(t.replace(RECORD_SEP, " ") for t in texts)
        buf = joined.encode("utf-8", "surrogatepass")
        ends: list[tuple[int, int]] = []
        append = ends.append

        def on_match(pid, start, end, flags, ctx):
            append((end, pid))

        with self._lock:
            self._db.scan(buf, match_event_handler=on_match)
        out: dict[int, set[str]] = {}
        if not ends:
            return out
        ends.sort()
        tags = self.tags
        idx = 0
        pos = 0
        for end, pid in ends:
            # end is exclusive; a match may consume the separator after its text
            at = max(end - 1, 0)
            if at > pos:
                idx += buf.count(b"\x00", pos, at)
                pos = at
            out.setdefault(idx, set()).add(tags[pid])
        return out

    def scan_segments(self, buf: bytes, starts) -> dict[int, set[str]]:
        """Tags per segment of ``buf`` (segment ``k`` starts at ``starts[k]``; sorted),
        one scan for the whole buffer; a match belongs to the segment holding its last byte."""
        out: dict[int, set[str]] = {}
        if not buf or not len(starts):
            return out
        tags = self.tags
        ends: list[tuple[int, int]] = []
        append = ends.append

        def on_match(pid, start, end, flags, ctx):
            append((end, pid))

        with self._lock:
            self._db.scan(buf, match_event_handler=on_match)
        for end, pid in ends:
            k = bisect_right(starts, max(end - 1, 0)) - 1
            if k >= 0:
                s = out.get(k)
                if s is None:
                    out[k] = s = set()
                s.add(tags[pid])
        return out
