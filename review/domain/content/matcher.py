"""Multi-pattern keyword matching on the match view, with a Hyperscan batch prefilter.

Two layers:

* ``KeywordSet`` is the source of truth: library terms canonicalized with the match-view
  folds, one ahocorasick_rs automaton over them, Latin word-boundary checks (term "ass"
  never fires inside "class"; CJK terms match anywhere) and allow-list suppression; spans
  are mapped back to the original text.
* ``Prefilter`` (Hyperscan) scans a whole chunk of raw texts as one UTF-8 buffer and says
  which texts may hold a hit. Its patterns are a superset of what ``KeywordSet`` can match
  on the view: each term as written and in canonical form, as plain literals scanned in the
  term view of the buffer (``TERM_VIEW``: ``l`` as ``i``, separators as a space, Traditional,
  compatibility and case forms folded in place), its typo and split-word spellings, plus flags for
  characters that fold into Latin (homoglyphs, full width, zero-width, bidi: one literal per
  character), for spaced-out single letters and for leetspeak inside a word. Raw buffers
  get cheap flags (two-byte leet literals, a one-pattern spaced database that treats every
  non-ASCII byte as a possible separator); candidate texts are re-scanned with the strict
  leet/spaced patterns and with the fold literals, which list the non-ASCII characters the
  view must fold. Only flagged texts are folded and verified, and the flags tell the view
  which steps it can skip (plain texts are folded with ``replace``/``lower`` and matched
  together in one automaton call). Extra regex patterns (rules) have a database of their own
  over the raw bytes (HS_FLAG_PREFILTER, verified by Python ``re``).

Engine choice: ``hyperscan`` (default when importable) or ``ahocorasick`` (verify every
text); force with ``engine=`` or the env var ``ETHICS_REVIEW_MATCHER``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import os
import platform
import tempfile
import threading
from array import array
from pathlib import Path
from bisect import bisect_right
from dataclasses import dataclass
from typing import AbstractSet, Any, Callable, Iterable, NamedTuple, Sequence, cast

import ahocorasick_rs

from review.domain.content.normalize import (ALNUM, COMMON_FOLD, SEP_ASCII, ascii_fold, needs_collapse, canonical_term, fold_leet,
                                             match_view, native, split_words, tables)

try:  # optional native engine
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the platform
    _hs = None  # type: ignore[assignment]  # a module or None: callers check `_hs is not None`

ENV_ENGINE = "ETHICS_REVIEW_MATCHER"
#: Where compiled Hyperscan databases are kept (default: $XDG_CACHE_HOME/ethics-review/matchers); "off" disables.
ENV_CACHE = "ETHICS_REVIEW_MATCHER_CACHE"
CACHE_MAX_BYTES = 512 * 1024 * 1024  # the oldest databases go beyond this
# The DFA form of the automaton: same matches, about twice as fast per text (measured).
_AC_DFA = getattr(getattr(ahocorasick_rs, "Implementation", None), "DFA", None)
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
    glued: bool = False  # found inside longer words too (no word boundary on either side)
    typos: bool = False  # found one typo away too (``typo_variants``); a variant's ``canon`` is the misspelling


#: Terms with at least this many letters get typo variants (shorter ones would collide with ordinary words).
TYPO_MIN_LETTERS = 5


def typo_variants(canon: str) -> list[str]:
    """The canonical spellings one everyday typo away from ``canon``: two adjacent letters of a word swapped, or
    one letter left out, never the term's first or last letter (people keep those, and most accidental collisions
    with ordinary words change them). Only Latin terms of ``TYPO_MIN_LETTERS`` letters or more."""
    letters = [i for i, c in enumerate(canon) if "a" <= c <= "z"]
    if len(letters) < TYPO_MIN_LETTERS or not canon.isascii():
        return []
    out: set[str] = set()
    for i in letters[1:-2]:
        if "a" <= canon[i + 1] <= "z" and canon[i] != canon[i + 1]:
            out.add(canon[:i] + canon[i + 1] + canon[i] + canon[i + 2:])
    for i in letters[1:-1]:
        out.add(canon[:i] + canon[i + 1:])
    out.discard(canon)
    return sorted(out)


class Hit(NamedTuple):  # a tuple: cheap to build (thousands per chunk)
    start: int  # original text offsets
    end: int
    term: Term


_ALNUM_BYTES = frozenset(c.encode()[0] for c in ALNUM)


def cache_dir() -> Path | None:
    """The compiled-database cache directory, or None when caching is off."""
    value = os.environ.get(ENV_CACHE, "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ethics-review" / "matchers"


def compile_db(exprs: list[bytes], flags: list[int]) -> Any:
    """A Hyperscan block-mode database for ``exprs`` (ids 0..n-1), loaded from the cache when the same
    expressions and flags were compiled before on this kind of machine (a 10,000-term library compiles in
    seconds and loads in a millisecond), else compiled and stored. The key is a hash of everything the
    compiled form depends on, so a changed pack, library or Hyperscan version never meets a stale database;
    a database the running Hyperscan cannot load (another CPU, a damaged file) is compiled again."""
    h = hashlib.sha256(f"{getattr(_hs, '__version__', '')}|{platform.machine()}|{len(exprs)}".encode())
    for e, f in zip(exprs, flags, strict=True):
        h.update(b"%d\x00%d\x00" % (f, len(e)))
        h.update(e)
    folder = cache_dir()
    path = folder / f"{h.hexdigest()}.hsdb" if folder is not None else None
    if path is not None and path.is_file():
        try:
            db = _hs.loadb(path.read_bytes(), _hs.HS_MODE_BLOCK)
            db.scratch = _hs.Scratch(db)  # a loaded database has none (compile() makes one)
            os.utime(path)  # recently used: pruned last
            return db
        except (OSError, _hs.error, ValueError):
            pass
    db = _hs.Database()
    db.compile(expressions=exprs, ids=list(range(len(exprs))), flags=flags)
    if path is not None:
        _store(path, _hs.dumpb(db))
    return db


def _store(path: Path, data: bytes) -> None:
    """Write atomically (a reader never sees half a file); a cache that cannot be written is no cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        files = sorted(path.parent.glob("*.hsdb"), key=lambda p: p.stat().st_mtime, reverse=True)
        total = 0
        for p in files:
            total += p.stat().st_size
            if total > CACHE_MAX_BYTES and p != path:
                p.unlink(missing_ok=True)
    except OSError:
        pass


class _ByteMatcher:
    """Every (overlapping) occurrence of a set of byte literals (``find_ends``):
    one Hyperscan literal database (the fastest here, cold cache included), or an
    ahocorasick_rs bytes DFA (the ``ahocorasick`` engine, or no Hyperscan)."""

    def __init__(self, words: list[bytes], hyperscan: bool = True):
        self.lens = [len(w) for w in words]
        self._db = self._ac = None
        if not words:
            return
        if hyperscan and _hs is not None:
            self._db = compile_db(["".join(f"\\x{b:02x}" for b in w).encode("ascii") for w in words], [0] * len(words))
            self._lock = threading.Lock()  # one scratch space per database
        else:
            self._ac = ahocorasick_rs.BytesAhoCorasick(words, implementation=_AC_DFA)

    def find_ends(self, buf: bytes) -> list[int]:
        """Every occurrence as a flat ``[id, end, id, end, ...]`` (the shape ``resolve_hits`` reads: no tuple per
        match)."""
        if self._db is not None:
            out: list[int] = []
            append = out.append

            def on_match(pid: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
                append(pid)
                append(end)

            with self._lock:
                self._db.scan(buf, match_event_handler=on_match)
            return out
        if self._ac is not None:
            return [x for pid, _s, e in self._ac.find_matches_as_indexes(buf, overlapping=True) for x in (pid, e)]
        return []



_INNER_SEPS = frozenset("-._")


def _merge_joined(hits: list[Hit], extra: list[tuple[int, int, int, Term]]) -> list[Hit]:
    """``hits`` plus the ``_joined`` hits of one text that are not already there (same span, category and term)."""
    if not extra:
        return hits
    seen = {(h.start, h.end, h.term.category, h.term.term) for h in hits}
    return hits + [Hit(s, e, t) for _, s, e, t in extra if (s, e, t.category, t.term) not in seen]


class KeywordSet:
    """Canonical keyword matcher over the match view (exact spans, boundaries, allow-list)."""

    def __init__(self, terms: list[Term], allow_list: Iterable[str] = (), hyperscan: bool = True):
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
        glued = {t.canon for t in terms if t.glued}
        self.latin_left = [c[0] in ALNUM and c not in glued for c in self.canons]
        self.latin_right = [c[-1] in ALNUM and c not in glued for c in self.canons]
        self._ac = ahocorasick_rs.AhoCorasick(self.canons, implementation=_AC_DFA) if self.canons else None
        allow = sorted({a for a in (canonical_term(x) for x in allow_list) if a})
        self.allow = allow
        self._allow_ac = ahocorasick_rs.AhoCorasick(allow, implementation=_AC_DFA) if allow else None
        # joined-text matching needs terms that cannot span the NUL joint
        self._batchable = self._ac is not None and not any(RECORD_SEP in c for c in self.canons + allow)
        # the compiled path: terms then allow-list entries as UTF-8 literals (view bytes)
        self._bytes = (_ByteMatcher([c.encode("utf-8", "surrogatepass") for c in self.canons + allow], hyperscan)
                       if self._batchable and native() is not None else None)
        # what resolve_hits reads per pattern (terms, then allow-list entries): byte length, word-boundary flags
        self._lens = array("i", self._bytes.lens if self._bytes is not None else []).tobytes()
        self._flags = bytes([left | right << 1 for left, right in zip(self.latin_left, self.latin_right, strict=True)]
                            + [(a[0] in ALNUM) | (a[-1] in ALNUM) << 1 for a in allow])

    @staticmethod
    def _bounded(view: str, s: int, e: int, left: bool, right: bool, joints: AbstractSet[int] = frozenset()) -> bool:
        # A removed separator counts as a word boundary: in "I k i l l" the spaced run
        # swallows the "I", and the term must still be found.
        if left and s > 0 and view[s - 1] in ALNUM and s not in joints:
            return False
        if right and e < len(view) and view[e] in ALNUM and e not in joints:
            return False
        return True

    def find(self, text: str, hints: set[str] | None = None, joined: bool = True) -> list[Hit]:
        """Every library term in ``text`` (original spans), sorted, allow-list applied.
        ``hints``: prefilter tags for this text (same result, less work). ``joined``: also the words a separator
        splits (``_joined``)."""
        if self._ac is None or not text:
            return []
        if self._bytes is not None:
            return self._find_native([text])[0]
        view = match_view(text, hints)
        v = view.text
        assert self._ac is not None
        raw = self._ac.find_matches_as_indexes(v, overlapping=True)
        if not raw:
            return _merge_joined([], self._joined([text])) if joined else []
        allowed = self._allowed(v)
        hits: list[Hit] = []
        for pid, s, e in raw:
            if not self._bounded(v, s, e, self.latin_left[pid], self.latin_right[pid], view.joints):
                continue
            if any(a <= s and e <= b for a, b in allowed):
                continue
            os_, oe = view.span(s, e)
            for t in self.groups[pid]:
                hits.append(Hit(os_, oe, t))
        if joined:
            hits = _merge_joined(hits, self._joined([text]))
        hits.sort(key=lambda h: (h.start, h.end, h.term.category, h.term.canon))
        return hits

    def find_many(self, texts: list[str], hints: Sequence[set[str] | None]) -> list[list[Hit]]:
        """``[self.find(t, h) for t, h in zip(texts, hints)]``, with the texts whose view is
        a plain per-character fold (prefilter-listed folds only: no suspicious character,
        deletion, leetspeak or spaced run) folded and matched together: one joined string,
        C-speed ``replace``/``lower``, one automaton call. Same hits, same order."""
        if self._bytes is not None:
            return self._find_native(texts)
        out: list[list[Hit]] = [None] * len(texts)  # type: ignore[list-item]  # placeholders: every slot is set below
        plain: list[int] = []
        leet: list[int] = []  # plain but for leetspeak: LEET_RE keeps lengths and stops at the joints
        slow = _SLOW_TAGS
        for k, (text, h) in enumerate(zip(texts, hints, strict=True)):
            if (self._batchable and text and h is not None and "fx" in h and RECORD_SEP not in text
                    and not any(t[:2] == MULTI_PREFIX for t in h)):
                if slow.isdisjoint(h):
                    plain.append(k)
                    continue
                if TAG_LEET in h and _SLOW_NOT_LEET.isdisjoint(h):
                    leet.append(k)
                    continue
            out[k] = self.find(text, h)
        tagged = cast("Sequence[set[str]]", hints)  # the plain and leet texts have tags (checked above)
        if plain:
            self._find_plain(texts, tagged, plain, out)
        if leet:
            self._find_plain(texts, tagged, leet, out, leet=True)
        batched = plain + leet
        for j, s, e, t in self._joined([texts[k] for k in batched]):
            k = batched[j]
            merged = _merge_joined(out[k], [(0, s, e, t)])
            merged.sort(key=lambda h: (h.start, h.end, h.term.category, h.term.canon))
            out[k] = merged
        return out

    def _joined(self, texts: Sequence[str], views: object | None = None) -> list[tuple[int, int, int, Term]]:
        """Terms in the words a separator splits (``mur-der``, ``be.head``, ``kill_er``): the view reads such a
        word as two, so each token of letters and ``-._`` around a split is matched again with its separators
        taken out, and a hit counts when it spans a removed separator (the rest the view has found). Only texts
        with such a split are looked at again (``split_words``, compiled), and only those words; with ``views``
        (``fold_views(texts)``'s handle) only around the splits the fold noted (``split_tokens``), no text read again."""
        nat = native() if views is not None else None
        if nat is not None:
            toks, spans = nat.split_tokens(texts, views)
            ints = memoryview(spans).cast("i")  # (text, start, end) of each token, flat: read for the few hits

            def span(i: int) -> tuple[int, int, int]:
                return ints[3 * i], ints[3 * i + 1], ints[3 * i + 2]
        else:
            listed = split_words(texts)
            toks = [texts[j][s:e].replace("-", "").replace(".", "").replace("_", "") for j, s, e in listed]

            def span(i: int) -> tuple[int, int, int]:
                return listed[i]
        if not toks:
            return []
        if self._bytes is not None:
            flat = self.find_flat(toks, joined=False)
        else:
            flat = [(i, h.start, h.end, h.term) for i, tok in enumerate(toks) for h in self.find(tok, joined=False)]
        out: list[tuple[int, int, int, Term]] = []
        for i, s2, e2, t in flat:
            j, s, e = span(i)
            keep = [k for k in range(s, e) if texts[j][k] not in _INNER_SEPS]
            os_, oe = keep[s2], keep[e2 - 1] + 1
            if oe - os_ != e2 - s2:  # spans a removed separator
                out.append((j, os_, oe, t))
        return out

    def _find_native(self, texts: list[str]) -> list[list[Hit]]:
        """``find`` for many texts with the compiled fold (see ``find_flat``)."""
        out: list[list[Hit]] = [[] for _ in texts]
        for j, s, e, t in self.find_flat(texts):
            out[j].append(Hit(s, e, t))
        return out

    def find_flat(self, texts: list[str], joined: bool = True, folded: tuple[bytes, object] | None = None
                  ) -> list[tuple[int, int, int, Term]]:
        """Every hit in ``texts`` as ``(text index, start, end, term)`` in original offsets,
        sorted by text, start, end, category, canonical form (the compiled fold; callers
        check ``native_ready``). The views come back as one UTF-8 buffer (NUL between
        texts, which no term holds); one byte-literal scan finds the terms and allow-list entries
        in all of them, and ``resolve_hits`` (compiled) keeps the matches that count and maps
        them back through the byte -> original-index map, which stays in C. Boundaries are
        checked on bytes (ALNUM is ASCII: a non-ASCII neighbour is never a letter of a Latin word)."""
        nat = native()
        assert nat is not None and self._bytes is not None  # built with the native fold
        buf, views = folded if folded is not None else nat.fold_views(texts)  # folded: fold_views(texts) already done
        flat = self._bytes.find_ends(buf)
        extra = self._joined(texts, views) if joined else []
        if not flat and not extra:
            return []
        groups = self.groups
        hits: list[tuple[int, int, int, Term]] = []
        append = hits.append
        for j, os_, oe, pid in nat.resolve_hits(views, buf, flat, self._lens, self._flags, len(self.canons)):
            for t in groups[pid]:
                append((j, os_, oe, t))
        if extra:
            seen = {(j, s, e, t.category, t.term) for j, s, e, t in hits}
            hits += [h for h in extra if (h[0], h[1], h[2], h[3].category, h[3].term) not in seen]
        hits.sort(key=lambda h: (h[0], h[1], h[2], h[3].category, h[3].canon))
        return hits

    @property
    def native_ready(self) -> bool:
        """``find_flat`` is available (compiled fold, batchable terms)."""
        return self._bytes is not None

    def _allowed(self, v: str) -> list[tuple[int, int]]:
        """View spans covered by an allow-list entry (whole words for Latin entries)."""
        allowed: list[tuple[int, int]] = []
        if self._allow_ac is not None:
            for pid, s, e in self._allow_ac.find_matches_as_indexes(v, overlapping=True):
                a = self.allow[pid]
                if self._bounded(v, s, e, a[0] in ALNUM, a[-1] in ALNUM):
                    allowed.append((s, e))
        return allowed

    def _find_plain(self, texts: Sequence[str], hints: Sequence[set[str]], plain: list[int], out: list[list[Hit]],
                    leet: bool = False) -> None:
        one = tables().one
        reps: set[str] = set(COMMON_FOLD)
        offs: list[int] = []
        pos = 0
        parts: list[str] = []
        for k in plain:
            text = texts[k]
            offs.append(pos)
            pos += len(text) + 1
            parts.append(text)
            for tag in hints[k]:
                if tag[:2] == FOLD_PREFIX:
                    reps.add(tag[2:])
        joined = RECORD_SEP.join(parts)
        if not joined.isascii():
            for c in reps:
                if c in joined:
                    joined = joined.replace(c, one[ord(c)])
        v = ascii_fold(joined)
        joints: set[int] = set()
        if leet:
            v = fold_leet(v, joints)
        for k in plain:
            out[k] = []
        # a text whose fold holds a run of spaces reads differently once the run collapses: the general path
        runs = {j for j, k in enumerate(plain) if needs_collapse(v[offs[j]:offs[j] + len(texts[k])])} if needs_collapse(v) else set()
        for j in runs:
            out[plain[j]] = self.find(texts[plain[j]], hints[plain[j]])
        assert self._ac is not None
        raw = self._ac.find_matches_as_indexes(v, overlapping=True)
        if not raw:
            return
        allowed = self._allowed(v)
        touched: set[int] = set()
        for pid, s, e in raw:
            if not self._bounded(v, s, e, self.latin_left[pid], self.latin_right[pid], joints):
                continue
            if allowed and any(a <= s and e <= b for a, b in allowed):
                continue
            j = bisect_right(offs, s) - 1
            if j in runs:
                continue
            base = offs[j]
            lst = out[plain[j]]
            for t in self.groups[pid]:
                lst.append(Hit(s - base, e - base, t))
            touched.add(j)
        for j in touched:
            out[plain[j]].sort(key=lambda h: (h.start, h.end, h.term.category, h.term.canon))


# ---------------------------------------------------------------- Hyperscan prefilter



@functools.lru_cache(maxsize=65536)
def _esc_bytes(ch: str) -> str:
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8"))


def _alts(chars: Iterable[str]) -> str:
    chars = sorted(set(chars))
    if len(chars) == 1:
        return _esc_bytes(chars[0])
    return "(?:" + "|".join(_esc_bytes(c) for c in chars) + ")"


#: The raw buffer the term literals are scanned in (``_native.term_view``; this table is its ASCII part, the whole
#: of it without the compiled fold): ``l`` and ``L`` read ``i`` (the view merges them), tab, line breaks, ``-`` and
#: ``_`` read a space, and (compiled) a character whose fold is one character of the same UTF-8 length reads as that
#: character (Traditional -> Simplified, compatibility forms). Byte for byte, so offsets and lines stay where they
#: are. Then a term is one plain literal per spelling: a spelled pattern per term (``[il]`` for each i, a separator
#: class between words, an alternation per Chinese character with variants) compiled 10-40 times slower (a
#: 50,000-term library: over 2 minutes) for the same candidates.
TERM_VIEW = bytes.maketrans(b"lL\t\n\r-_", b"ii     ")
_TERM_VIEW_STR = str.maketrans("lL\t\n\r-_", "ii     ")
#: Between two words of a term in the term view: a space (any one separator but ``.``) or a dot. A line with two
#: separators in a row (``pipe  bomb``, ``pipe - bomb``) is a candidate through ``DOUBLE_GAP``; a dot is not turned
#: into a space so that a sentence end (``. ``) does not make every line one.
_GAPS = (" ", ".")
DOUBLE_GAP = "  "


def _hs_spell(folded: str, native: bool = True) -> list[str]:
    """The term's patterns on term-view bytes: plain literals, its words joined by each gap of ``_GAPS``. Without the
    compiled term view, a character with Traditional or compatibility variants is an alternation of them."""
    inverse = tables().inverse
    words = []
    for word in folded.split(" "):
        if native:
            words.append("".join(_esc_bytes(ch) for ch in word))
        else:
            words.append("".join(_esc_bytes(ch) if ch.isascii() else _alts({ch} | set(inverse.get(ch, ()))) for ch in word))
    gaps = len(words) - 1
    if gaps == 0:
        return words
    runs = list(itertools.product(_GAPS, repeat=gaps)) if gaps <= 2 else [(g,) * gaps for g in _GAPS]
    out: list[str] = []
    for run in runs:
        spelled = words[0]
        for gap, word in zip(run, words[1:], strict=True):
            spelled += _esc_bytes(gap) + word
        out.append(spelled)
    return out


def hs_term_patterns(term: str, canon: str, native: bool = True) -> list[str]:
    """Patterns (matched caseless on term-view bytes, no word boundaries: the verifier checks those) for the term
    as written and for its canonical form; leet, homoglyph, spaced and zero-width spellings are caught by the
    dedicated flag patterns instead."""
    base = term.strip().translate(tables().one)
    return sorted({*_hs_spell(base, native), *_hs_spell(canon, native)})


@functools.cache
def unequal_literals() -> list[str]:
    """Characters that fold into one other non-ASCII character of another UTF-8 length (rare forms; the compiled
    term view cannot fold them in place), as literals: a line holding one is a candidate."""
    return sorted(_esc_bytes(chr(cp)) for cp, f in tables().one.items()
                  if cp >= 0x80 and not f.isascii() and len(chr(cp).encode("utf-8")) != len(f.encode("utf-8")))


def hs_typo_patterns(term: str) -> list[str]:
    """Literal patterns (matched caseless, in the term view) for the typo variants of a term as written, one space
    between its words. A typo on top of a run of separators (``murdr -- er``) reaches the view only on a line the
    prefilter passes for another reason, or when it stands aside."""
    return ["".join(_esc_bytes(c) for c in v) for v in typo_variants(term.strip().lower().translate(_TERM_VIEW_STR))]


def hs_split_patterns(term: str) -> list[str]:
    """Literal patterns (matched caseless) that a single Latin word (letters and digits: ``ak47``) split by a separator (``mur-der``, ``beh.ead``, ``ak-47``)
    cannot avoid: for each split point, the longer side with the separator next to it (``mur-``/``-der``...), so
    every such spelling is a candidate for ``KeywordSet._joined`` without a spelled pattern per split. A word split
    twice (``mu-r-der``) is found only on a line that is a candidate anyway (or when the prefilter stands aside)."""
    w = term.strip().lower()
    if " " in w or not w.isascii() or len(w) < 4 or not w.isalnum() or w.isdigit():
        return []
    w = w.translate(_TERM_VIEW_STR)
    out: list[str] = []
    for k in range(1, len(w)):
        for sep in " .":  # ``-`` and ``_`` read as a space in the term view
            lit = w[:k] + sep if k >= len(w) - k else sep + w[k:]
            out.append("".join(_esc_bytes(c) for c in lit))
    return out


_TOK_ASCII = "A-Za-z0-9@$!|"


def _leet_pattern() -> str:
    """A letter next to a leetspeak character: a superset of every place the view folds
    leetspeak (a run of ``[013457@$!|]`` between letters, or opening/closing a word of at
    least two letters). Two-byte windows, so Hyperscan runs it on its literal engine."""
    leet = "[0134579@$!|]"
    return f"[A-Za-z]{leet}|{leet}[A-Za-z]"


@functools.cache
def leet_literals() -> list[str]:
    """``_leet_pattern`` spelled out as two-byte literals (matched caseless): as literals
    they share the term literals' engine instead of adding an automaton (measured 3.3 vs
    2.3 GB/s for the main database)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    leet = "0134579@$!|"
    return sorted({_esc_bytes(a + b) for a in letters for b in leet} | {_esc_bytes(b + a) for a in letters for b in leet})


@functools.cache
def suspicious_literals(full: int = 48) -> list[str]:
    """The suspicious characters as UTF-8 literals, one each, except that a prefix (all
    but the last byte) under which at least ``full`` of the 64 possible characters are
    suspicious stands for its whole block (math alphanumerics, compatibility squares,
    presentation forms): a superset with fewer, and fewer short, literals."""
    groups: dict[bytes, list[bytes]] = {}
    for c in tables().suspicious:
        b = c.encode("utf-8")
        groups.setdefault(b[:-1], []).append(b)
    out: set[str] = set()
    for prefix, members in groups.items():
        if len(prefix) >= 2 and len(members) >= full:
            out.add("".join(f"\\x{x:02x}" for x in prefix))
        else:
            out.update("".join(f"\\x{x:02x}" for x in m) for m in members)
    return sorted(out)


def _leet_pattern_strict() -> str:
    """The former (tighter, slower) leet flag, kept for reference and tests."""
    leet = "[0134579@$!|]+"
    lw = "[A-Za-z013457@$!|]"
    return (f"[A-Za-z]{leet}[A-Za-z]|(?:^|[^A-Za-z0-9]){leet}[A-Za-z]{lw}"
            f"|{lw}[A-Za-z]{leet}(?:[^A-Za-z0-9]|$)")


def _char_class_utf8(chars: Iterable[str]) -> str:
    return "[" + "".join(_class_items(chars)) + "]"


def _class_items(chars: Iterable[str]) -> list[str]:
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


def _byte_class(chars: str) -> str:
    return "[" + "".join(f"\\x{ord(c):02x}" for c in sorted(set(chars))) + "]"


def _spaced_pattern() -> str:
    """Spaced-out single characters ("k i l l", "k.i.l.l", "k\u3000i\u3000l\u3000l") as a
    byte pattern (no UTF-8 mode): every byte >= 0x80 counts as a possible separator byte
    and the gaps are unbounded, a superset of the UTF-8 pattern (``_spaced_pattern_utf8``:
    one to three ASCII or non-ASCII separators) that Hyperscan runs on a small DFA."""
    tok = f"[{_TOK_ASCII}]"
    sep = _byte_class(SEP_ASCII)[:-1] + "\\x80-\\xff]"
    return f"(?:^|[^{_TOK_ASCII}]){tok}(?:{sep}+{tok}){{2}}(?:[^{_TOK_ASCII}]|$)"


HAN_GAP_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]{2}")


def _han_pair_bits(terms: list[str]) -> bytes:
    """Two bit sets over U+3000-U+9FFF for ``_native.han_gaps``: the characters a term goes on after, then the
    characters that follow another in a term (every variant that folds into them, Traditional included)."""
    inverse = tables().inverse
    span = 0x7000
    go_on, follow = bytearray(span // 8), bytearray(span // 8)

    def mark(bits: bytearray, ch: str) -> None:
        for c in {ch} | set(inverse.get(ch, ())):
            k = ord(c) - 0x3000
            if 0 <= k < span:
                bits[k >> 3] |= 1 << (k & 7)

    for term in terms:
        for a, b in zip(term, term[1:], strict=False):
            if HAN_GAP_CHAR.fullmatch(a + b):
                mark(go_on, a)
                mark(follow, b)
    return bytes(go_on + follow)


def _han_gap_pattern() -> str:
    """Raw UTF-8 bytes: a CJK character, then spaces or separators (ASCII, NBSP, ideographic space, full-width
    hyphen/dot/low line), then another (a superset of the view's Chinese gaps, ``normalize.HAN_GAP_RE``)."""
    cjk = r"[\xe3-\xe9][\x80-\xbf][\x80-\xbf]"
    sep = r"(?:[\x09\x0a\x0d\x20\x2d\x2e\x5f]|\xc2\xa0|\xe3\x80\x80|\xef\xbc[\x8d\x8e]|\xef\xbc\xbf)+"
    return cjk + sep + cjk


def _spaced_pattern_utf8() -> str:
    """The former single UTF-8 spaced pattern (reference for tests)."""
    tok = "[A-Za-z0-9@$!|]"
    sep_chars = set(SEP_ASCII) | set(tables().nonascii_sep)
    sep = _char_class_utf8(sep_chars)
    return f"(?:^|[^A-Za-z0-9@$!|]){tok}(?:{sep}{{1,3}}{tok}){{2}}(?:[^A-Za-z0-9@$!|]|$)"


TAG_KEYWORD = "kw"
TAG_SUSPICIOUS = "sus"
TAG_SPACED = "spaced"
TAG_LEET = "leet"
# Fold tags (``Prefilter.scan`` only, never per raw segment): ``TAG_FOLD_SCANNED`` says the
# text's non-ASCII folds were looked for; ``"f:" + c`` names a present non-ASCII character
# the view may fold with ``str.replace`` (one-to-one, into a lower-case non-"l" character);
# ``"m:" + c`` a present character the view deletes or expands; ``TAG_FOLD`` says some
# other folding or case-changing non-ASCII character is present (slow, general path).
# Loose evasion tags (raw-buffer scans only): cheap supersets of the strict ``leet`` and
# ``spaced`` patterns that pick candidate lines; ``scan`` re-derives the strict tags.
TAG_LEET_LOOSE = "leet~"
TAG_SPACED_LOOSE = "spaced~"
LOOSE_TAGS = frozenset({TAG_LEET_LOOSE, TAG_SPACED_LOOSE})
# Tags that send a text to the keyword scanner (loose ones too: with the compiled fold the
# raw line's tags select texts directly).
KEYWORD_TAGS = frozenset({TAG_KEYWORD, TAG_SUSPICIOUS, TAG_SPACED, TAG_LEET}) | LOOSE_TAGS
TAG_FOLD_SCANNED = "fx"
TAG_FOLD = "fold"
FOLD_PREFIX = "f:"
MULTI_PREFIX = "m:"  # a present character the view deletes or expands (offsets change)
_SLOW_TAGS = frozenset({"sus", "leet", "spaced", "fold"})
_SLOW_NOT_LEET = _SLOW_TAGS - {"leet"}


@functools.cache
def fold_literals() -> list[tuple[str, str]]:
    """(character, tag) for every non-ASCII character whose view differs from
    ``str.lower``'s identity: the fold table entries plus case-changing characters."""
    t = tables()
    chars = {cp for cp in t.one if cp >= 0x80} | {cp for cp in t.multi if cp >= 0x80}
    out: list[tuple[str, str]] = []
    for c in COMMON_FOLD:
        f = t.one.get(ord(c))
        assert f is not None and f.isascii() and f.lower() == f and f != "l", c
    for lo, hi in ((0x80, 0xD800), (0xE000, 0x110000)):
        for cp in range(lo, hi):
            c = chr(cp)
            if c in COMMON_FOLD:
                continue
            if cp in chars or c.lower() != c:
                f = t.one.get(cp)
                if f is not None and f.lower() == f and f != "l" and ord(f) not in t.one and ord(f) not in t.multi:
                    out.append((c, FOLD_PREFIX + c))
                elif cp in t.multi and all(x.lower() == x and x != "l" for x in t.multi[cp]):
                    out.append((c, MULTI_PREFIX + c))
                else:
                    out.append((c, TAG_FOLD))
    return out


class _DB:
    """One compiled Hyperscan block-mode database and its pattern tags."""

    def __init__(self, exprs: list[bytes], flags: list[int], tags: list[str], view: bool = False):
        self.tags = tags
        self.db = compile_db(exprs, flags)
        self.view = view  # scans ``TERM_VIEW`` bytes (the term literals), not the raw buffer

    def scan(self, buf: bytes, append: Callable[[tuple[int, str]], None]) -> None:
        tags = self.tags

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
            append((end, tags[pid]))

        self.db.scan(buf, match_event_handler=on_match)


class Prefilter:
    """Hyperscan databases per (pack hash): keyword superset patterns + extra regexes.

    ``scan(texts)`` returns, per text index, the set of tags that fired: ``"kw"`` for a
    possible keyword hit, ``sus``/``spaced``/``leet`` for an evasion the view must undo, or
    the tag of an extra pattern (e.g. ``"rule:email"``).

    Layout (chosen by measurement): the term patterns, one literal per suspicious
    character, the two-byte leet window and the rule patterns share the ``main`` database
    (literal-led: ~2.2 GB/s on the bench buffer); the spaced-run pattern, which has no
    literal and drags any database it joins onto a slow automaton (0.6 GB/s combined), has
    its own one-pattern database (~1.6 GB/s); the fold literals (which non-ASCII
    characters a text holds) only run on candidate texts, never on whole buffers."""

    def __init__(self, terms: list[Term], extra: dict[str, str], typo_terms: Sequence[Term] = ()):
        if _hs is None:  # pragma: no cover
            raise RuntimeError("hyperscan is not importable")
        exprs: list[bytes] = []
        flags: list[int] = []
        tags: list[str] = []
        base = _hs.HS_FLAG_CASELESS
        keyword = any(t.canon for t in terms) or bool(typo_terms)
        # With the compiled fold (``native``) the view needs no hints: the spaced-run flag
        # comes from ``spaced_hits`` (one SSE2 pass, ~7 GB/s, instead of a DFA database at
        # ~1.6 GB/s) and candidate texts are not re-scanned for strict tags or fold
        # literals. (The two-byte leet literals stay: they cost Hyperscan almost nothing;
        # moving them to the SSE2 pass was measured slower.) The term literals are scanned in the term view.
        nat = native() if keyword else None
        self._term_view: Callable[[bytes], bytes] = nat.term_view if nat is not None else (lambda b: b.translate(TERM_VIEW))
        spelled = sorted({p for t in terms if t.canon for p in hs_term_patterns(t.term, t.canon, nat is not None)}
                         | {p for t in terms if t.canon for p in hs_split_patterns(t.term)}
                         | {p for t in typo_terms for p in hs_typo_patterns(t.term)}
                         | ({"".join(_esc_bytes(c) for c in DOUBLE_GAP)} if keyword else set()))
        for p in spelled:
            exprs.append(p.encode("ascii"))
            flags.append(base)
            tags.append(TAG_KEYWORD)
        self._spaced_hits = nat.spaced_hits if nat is not None else None
        if keyword:
            # homoglyphs, full width, zero-width, bidi, expansions; with the term view, the forms it cannot fold
            for lit in [*suspicious_literals(), *(unequal_literals() if nat is not None else ())]:
                exprs.append(lit.encode("ascii"))
                flags.append(0)
                tags.append(TAG_SUSPICIOUS)
            for lit in leet_literals():
                exprs.append(lit.encode("ascii"))
                flags.append(base)
                tags.append(TAG_LEET_LOOSE)
        self.unsupported: dict[str, str] = {}
        rule_exprs: list[bytes] = []
        rule_tags: list[str] = []
        for tag, pattern in extra.items():
            try:  # check alone first so one bad rule cannot sink the whole database
                _hs.Database().compile(expressions=[pattern.encode()], flags=_hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_UTF8)
            except _hs.error:
                self.unsupported[tag] = pattern
                continue
            rule_exprs.append(pattern.encode())
            rule_tags.append(tag)
        self.tags = list(tags) + rule_tags
        self._buffer_dbs: list[_DB] = []  # raw buffers: main + rules + loose spaced
        self._text_dbs: list[_DB] = []  # candidate texts: main + rules + strict leet/spaced + fold literals
        self._rule_db = _DB(rule_exprs, [_hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_UTF8] * len(rule_exprs), rule_tags) if rule_exprs else None
        for db in ([_DB(exprs, flags, tags, view=True)] if exprs else []) + ([self._rule_db] if self._rule_db is not None else []):
            self._buffer_dbs.append(db)  # the rules see the raw bytes (e-mail addresses keep their dots)
            self._text_dbs.append(db)
        # a Chinese term written with spaces or hyphens between its characters ("自 杀", "自-杀"): with the compiled
        # fold, one byte-test pass (``han_gaps``); else a database of its own (no literal: it would drag the main one
        # onto a slower automaton)
        han = keyword and any(HAN_GAP_CHAR.search(t.canon) for t in terms)
        self._han_gaps = None
        if han and nat is not None:
            bits = _han_pair_bits([t.canon for t in terms] + [t.term for t in terms])
            scan = nat.han_gaps
            self._han_gaps = lambda buf: scan(buf, bits)
        if han and nat is None:
            gap = _han_gap_pattern().encode("ascii")
            self._buffer_dbs.append(_DB([gap], [0], [TAG_SPACED_LOOSE]))
            self._text_dbs.append(_DB([gap], [0], [TAG_SPACED]))
        if keyword and nat is None:
            self._buffer_dbs.append(_DB([_spaced_pattern().encode("ascii")], [0], [TAG_SPACED_LOOSE]))
            self._text_dbs.append(_DB([_leet_pattern_strict().encode("ascii"), _spaced_pattern_utf8().encode("ascii")],
                                      [0, _hs.HS_FLAG_UTF8], [TAG_LEET, TAG_SPACED]))
            fold = fold_literals()
            self._text_dbs.append(_DB([_esc_bytes(c).encode("ascii") for c, _ in fold], [0] * len(fold), [t for _, t in fold]))
        if keyword:
            self.tags += [TAG_SPACED_LOOSE, TAG_LEET, TAG_SPACED]
        self._lock = threading.Lock()  # one scratch space per database: scan one at a time

    @property
    def native(self) -> bool:
        """Candidate texts are folded by the compiled view: tags only select texts."""
        return self._spaced_hits is not None

    def _raw(self, buf: bytes, texts: bool = False) -> list[tuple[int, str]]:
        ends: list[tuple[int, str]] = []
        append = ends.append
        view = self._term_view(buf)
        with self._lock:
            for db in (self._text_dbs if texts else self._buffer_dbs):
                db.scan(view if db.view else buf, append)
        if self._spaced_hits is not None:
            # a hit is the run's last token; the byte after it is where Hyperscan's match ends
            ends.extend((p + 2, TAG_SPACED_LOOSE) for p in self._spaced_hits(buf))
        if self._han_gaps is not None:
            ends.extend((p + 1, TAG_SPACED_LOOSE) for p in self._han_gaps(view))  # Traditional reads Simplified
        return ends

    def scan(self, texts: list[str]) -> dict[int, set[str]]:
        if not texts:
            return {}
        buf = self._joined(texts)
        return self._by_text(buf, self._raw(buf, texts=True))

    def scan_rules(self, texts: list[str]) -> dict[int, set[str]]:
        """``scan`` for the rule patterns alone (their tags per text): what a batch needs when the compiled keyword
        path looks at every text anyway (``ContentFilter.scan_many``)."""
        if not texts or self._rule_db is None:
            return {}
        buf = self._joined(texts)
        ends: list[tuple[int, str]] = []
        with self._lock:
            self._rule_db.scan(buf, ends.append)
        return self._by_text(buf, ends)

    @staticmethod
    def _joined(texts: list[str]) -> bytes:
        """The texts as one UTF-8 buffer, a NUL between two (a NUL inside a text reads as a space)."""
        joined = RECORD_SEP.join(texts)
        if joined.count(RECORD_SEP) != len(texts) - 1:  # a text carries a NUL: neutralize it
            joined = RECORD_SEP.join(t.replace(RECORD_SEP, " ") for t in texts)
        return joined.encode("utf-8", "surrogatepass")

    def _by_text(self, buf: bytes, ends: list[tuple[int, str]]) -> dict[int, set[str]]:
        """The tags of the matches ending in ``buf`` (``_joined``) per text index."""
        out: dict[int, set[str]] = {}
        if not ends:
            return out
        ends.sort()
        idx = 0
        pos = 0
        loose = LOOSE_TAGS if self._spaced_hits is None else frozenset()
        scanned = {TAG_FOLD_SCANNED} if self._spaced_hits is None else set()
        for end, tag in ends:
            if tag in loose:
                continue
            # end is exclusive; a match may consume the separator after its text
            at = max(end - 1, 0)
            if at > pos:
                idx += buf.count(b"\x00", pos, at)
                pos = at
            s = out.get(idx)
            if s is None:
                out[idx] = s = set(scanned)
            s.add(tag)
        return out

    def scan_segments(self, buf: bytes, starts: Sequence[int]) -> dict[int, set[str]]:
        """Tags per segment of ``buf`` (segment ``k`` starts at ``starts[k]``; sorted),
        one scan per database for the whole buffer; a match belongs to the segment holding
        its last byte."""
        out: dict[int, set[str]] = {}
        if not buf or not len(starts):
            return out
        for end, tag in self._raw(buf):
            k = bisect_right(starts, max(end - 1, 0)) - 1
            if k >= 0:
                s = out.get(k)
                if s is None:
                    out[k] = s = set()
                s.add(tag)
        return out

    def scan_lines(self, buf: bytes) -> dict[int, set[str]]:
        """Tags per line of ``buf``, keyed by the byte offset where the line starts (no
        split of the buffer: only the lines holding a match are located). A match belongs
        to the line holding its last byte (a line includes its newline)."""
        out: dict[int, set[str]] = {}
        if not buf:
            return out
        rfind, find, size = buf.rfind, buf.find, len(buf)
        cur: list[Any] = [-1, -1, None]  # [line start, line end (exclusive), tag set] of the last hit line

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
            at = end - 1 if end else 0
            if cur[0] <= at < cur[1]:
                cur[2].add(tags[pid])
                return
            lo = rfind(b"\n", 0, at) + 1
            nl = find(b"\n", at)
            cur[0], cur[1] = lo, (size if nl < 0 else nl + 1)
            st = out.get(lo)
            if st is None:
                out[lo] = st = set()
            cur[2] = st
            st.add(tags[pid])

        view = self._term_view(buf)
        with self._lock:
            for db in self._buffer_dbs:
                tags = db.tags
                db.db.scan(view if db.view else buf, match_event_handler=on_match)
        if self._spaced_hits is not None:
            tags = [TAG_SPACED_LOOSE]
            for p in self._spaced_hits(buf):
                on_match(0, p, p + 2 if p + 1 < size else p + 1, 0, None)
        if self._han_gaps is not None:
            tags = [TAG_SPACED_LOOSE]
            for p in self._han_gaps(view):
                on_match(0, p, p + 1, 0, None)
        return out
