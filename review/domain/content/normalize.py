"""The normalized "match view" of a text, with a lazy map back to the original.

Per character: NFKC, case fold, diacritics off Latin/Greek/Cyrillic letters, Unicode confusables (Cyrillic/Greek look-alikes) to Latin,
Traditional -> Simplified Chinese (single-character table from zhconv), zero-width and bidi
controls removed, and the letters ``l`` and ``i`` merged (so ``1``/``|``/``!`` can stand for
either). Then, in context: runs of >= 3 single characters separated by spaces/punctuation
("k i l l", "k.i.l.l") are joined, and leetspeak digits/symbols are folded only inside a
token that also contains a letter ("h4ck" -> "hack", while "2024" and "5 apples" stay).

The same function canonicalizes library terms, so a term matches its own evasions.
Fast path: ASCII text is one C-speed ``str.translate`` with identity offsets; text with only
one-to-one folds is also one translate; only text with deletions/expansions, spaced runs
(or a hit) pays for the per-character offset map.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol, Sequence

if TYPE_CHECKING:
    from pathlib import Path

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i"}
LEET_TABLE = str.maketrans(LEET)
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789@$!|"
ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# Separators that may be sprinkled between single letters ("k.i.l.l"). Every printable ASCII
# character except letters, digits and the leet symbols.
SEP_ASCII = " \t\r\n\"#%&'()*+,-./:;<=>?[\\]^_`{}~"

# Unicode confusables folded to Latin (a practical subset of UTS #39 for Cyrillic/Greek/others).
HOMOGLYPHS: dict[str, str] = {
    # Cyrillic lower
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ү": "y", "п": "n", "ь": "b", "г": "r",
    # Greek lower (after case folding capitals land here)
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ϲ": "c", "ϳ": "j", "μ": "u", "ζ": "z",
    # Latin look-alikes
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ß": "ss", "ø": "o", "đ": "d", "ł": "l",
    "ħ": "h", "ŧ": "t", "ƅ": "b", "ƿ": "p", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ʟ": "l", "ɴ": "n",
    "ʀ": "r", "ꜱ": "s", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴋ": "k", "ᴍ": "m",
    "ᴏ": "o", "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
}
#: Word separators a multi-word term may be written with ("pipe-bomb", "pipe_bomb", "pipe.bomb", a tab or a
#: line break): the view reads each as a space (one to one: offsets stay put), as the terms are canonicalized.
SEP_FOLD = {"-": " ", "_": " ", ".": " ", "\t": " ", "\n": " ", "\r": " "}
_SEP_TABLE = str.maketrans(SEP_FOLD)


def ascii_fold(text: str) -> str:
    """The fold of ASCII text: lower case, ``l`` read as ``i``, separators as spaces (== ``translate(ascii_table)``)."""
    return text.lower().replace("l", "i").translate(_SEP_TABLE)


# Invisible characters removed outright (besides every Unicode "Cf" format character).
INVISIBLE = {"\u00ad", "\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"}

_RANGES = ((0x80, 0xD800), (0xE000, 0x10000), (0x1D400, 0x1D800), (0x1F100, 0x1F200),
           (0x2F800, 0x2FA20), (0xE0000, 0xE0080))


def _t2s() -> dict[str, str]:
    import zhconv.zhconv as z  # data only: the zh2Hans conversion table

    z.loaddict()
    table = z.zhcdicts["zh2Hans"]
    return {k: v for k, v in table.items() if len(k) == 1 and len(v) == 1 and k != v}


def _strip_marks(n: str) -> str:
    """Diacritics off Latin, Greek and Cyrillic letters (``pïpe`` reads ``pipe``): NFKD, combining marks dropped.
    Other scripts keep their composition (Hangul would otherwise fall apart into jamo)."""
    d = unicodedata.normalize("NFKD", n)
    if d == n:
        return n
    base = "".join(ch for ch in d if not unicodedata.combining(ch))
    return base if base and all(ord(ch) < 0x530 for ch in base) else n


#: Combining diacritical marks on their own (``ki\u0301ll``): dropped, as the precomposed letters lose theirs.
COMBINING_MARKS = ((0x300, 0x370), (0x1AB0, 0x1B00), (0x1DC0, 0x1E00), (0x20D0, 0x2100), (0xFE20, 0xFE30))


def _fold_raw(c: str, t2s: dict[str, str]) -> str:
    if c in INVISIBLE or unicodedata.category(c) == "Cf" or any(lo <= ord(c) < hi for lo, hi in COMBINING_MARKS):
        return ""
    if (unicodedata.is_normalized("NFKC", c) and not unicodedata.decomposition(c) and c.casefold() == c and c != "l"
            and c not in HOMOGLYPHS and c not in t2s and c not in SEP_FOLD):
        # most characters (ideographs, syllables, symbols): every step below would leave them as they are (with no
        # decomposition NFKD changes none but Hangul, which _strip_marks keeps composed); _fold_full is the proof
        return c
    return _fold_full(c, t2s)


def _fold_full(c: str, t2s: dict[str, str]) -> str:
    """``_fold_raw`` without its shortcut (the tests hold the two equal on every character of ``_RANGES``)."""
    if c in INVISIBLE or unicodedata.category(c) == "Cf" or any(lo <= ord(c) < hi for lo, hi in COMBINING_MARKS):
        return ""
    n = unicodedata.normalize("NFKC", c).casefold()
    n = _strip_marks(n)
    n = "".join(HOMOGLYPHS.get(x, x) for x in n)
    n = "".join(t2s.get(x, x) for x in n)
    return "".join(SEP_FOLD.get(x, x) for x in n.replace("l", "i"))


@dataclass(frozen=True)
class FoldTables:
    one: dict[int, str]  # one-to-one folds (ord -> single char), incl. ASCII case and l->i
    multi: dict[int, str]  # deletions ('') and expansions (len > 1)
    full: dict[int, str | None]  # one + multi, for offset-free translate
    ascii_table: dict[int, str]
    multi_re: re.Pattern[str]
    inverse: dict[str, frozenset[str]]  # folded char -> every single char folding to it
    suspicious: frozenset[str]  # non-ASCII chars whose fold can build or split a Latin term
    nonascii_sep: frozenset[str]  # non-ASCII chars folding to an ASCII separator


def _fold_maps() -> tuple[dict[int, str], dict[int, str]]:
    """Every character's fold: one-to-one (``one``) and deletions or expansions (``multi``), computed from
    ``_fold_raw`` over the Unicode ranges (0.4-0.7 s: 65,000 characters), or loaded from the matcher cache
    directory, keyed by a hash of everything the result depends on (this module's source, the Unicode
    database's version, the Traditional-to-Simplified table, Python's version)."""
    import hashlib
    import importlib.util
    import json
    import sys
    from pathlib import Path

    from review.domain.content.matcher import _store, cache_dir

    folder = cache_dir()
    path = None
    if folder is not None:
        try:
            h = hashlib.sha256(Path(__file__).read_bytes())
            spec = importlib.util.find_spec("zhconv")  # its data, without importing it (0.1-0.3 s: pkg_resources)
            assert spec is not None and spec.origin is not None
            h.update(Path(spec.origin).with_name("zhcdict.json").read_bytes())
            h.update(f"{unicodedata.unidata_version}|{sys.version_info[:2]}".encode())
            path = folder / f"fold-{h.hexdigest()[:32]}.json"
            data = json.loads(path.read_bytes())  # JSON, not pickle: a cache file never runs code
            maps = {int(k): str(v) for k, v in data["one"].items()}, {int(k): str(v) for k, v in data["multi"].items()}
            os.utime(path)  # recently used: pruned last
            return maps
        except (OSError, ValueError, KeyError, TypeError, AttributeError, AssertionError):
            pass
    t2s = _t2s()
    one: dict[int, str] = {}
    multi: dict[int, str] = {}
    for cp in range(0x80):
        c = chr(cp)
        f = ascii_fold(c)
        if f != c:
            one[cp] = f
    cps = [cp for lo, hi in _RANGES for cp in range(lo, hi)]
    cps += [ord(k) for k in t2s if ord(k) >= 0x10000]
    for cp in cps:
        c = chr(cp)
        f = _fold_raw(c, t2s)
        if f == c:
            continue
        (one if len(f) == 1 else multi)[cp] = f
    if path is not None:
        _store(path, json.dumps({"one": one, "multi": multi}, ensure_ascii=False).encode())
        _prune_fold_maps(path)
    return one, multi


FOLD_MAPS_KEPT = 4  # versions of the fold maps kept in the cache directory (about 1 MB each)


def _prune_fold_maps(path: Path) -> None:
    """Keep the ``FOLD_MAPS_KEPT`` most recently used fold-map files beside ``path`` (an earlier version's, or another
    installed version's sharing the directory: each reads its own, and none is recomputed while it is in use)."""
    try:
        files = sorted(path.parent.glob("fold-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[FOLD_MAPS_KEPT:]:
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass


@functools.cache
def tables() -> FoldTables:
    """Build the fold tables once per process (from the cached fold maps: ~20 ms)."""
    one, multi = _fold_maps()
    inverse: dict[str, set[str]] = {}
    for cp, f in one.items():
        inverse.setdefault(f, set()).add(chr(cp))
    tokenish = set(TOKEN_CHARS)
    # Non-ASCII characters the raw-text prefilter cannot see through: everything that folds
    # to something else (homoglyphs, full width, Traditional, deletions, expansions), except
    # characters folding to an ASCII separator (CJK punctuation), which cannot build a term.
    # Non-ASCII characters folding one-to-one into another non-ASCII character (Traditional
    # -> Simplified, compatibility ideographs) are not suspicious: the prefilter spells
    # each such term character as an alternation of its variants instead.
    suspicious = {chr(cp) for cp, f in multi.items()} | {
        chr(cp) for cp, f in one.items() if cp >= 0x80 and f.isascii() and (f in tokenish or f not in SEP_ASCII)
    }
    nonascii_sep = {chr(cp) for cp, f in one.items() if cp >= 0x80 and f in SEP_ASCII}
    multi_re = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(multi)) + "]")
    full: dict[int, str | None] = {**one, **{cp: (f or None) for cp, f in multi.items()}}
    return FoldTables(
        one=one, multi=multi, full=full,
        ascii_table={cp: f for cp, f in one.items() if cp < 0x80},
        multi_re=multi_re,
        inverse={k: frozenset(v) for k, v in inverse.items()},
        suspicious=frozenset(suspicious), nonascii_sep=frozenset(nonascii_sep),
    )


_TOK = "[a-z0-9@$!|]"
_SEP = "[" + re.escape(SEP_ASCII) + "]"
SPACED_RE = re.compile(rf"(?<!{_TOK}){_TOK}(?:{_SEP}{{1,3}}{_TOK}(?!{_TOK})){{2,}}")
_SEP_RE = re.compile(_SEP)
_L = "[013457@$!|]+"
# Leetspeak is folded where it sits inside a word of letters: between two letters, opening
# a word followed by >= 2 letters, or closing a word after >= 2 letters.
_LW = "[a-z013457@$!|]"
# The leading lookahead only restates that every alternative starts on a leetspeak
# character; it lets ``re`` reject other positions in one step (~4x faster, same matches).
LEET_RE = re.compile(rf"(?=[013457@$!|])(?:(?<=[a-z]){_L}(?=[a-z])|(?<![a-z0-9]){_L}(?=[a-z]{_LW})|(?P<close>(?<={_LW}[a-z]){_L}(?![a-z0-9])))")
#: A closing run that starts with one of these may be punctuation ("kill!", "kill yourself!!") as much as a
#: letter ("a$$"): it is folded, and a word boundary is also allowed where it starts (a joint), so both read.
PUNCT_LEET = "!|$"


def _leet_run(m: re.Match[str]) -> str:
    return m.group().translate(LEET_TABLE)


@dataclass(frozen=True)
class MatchView:
    """Folded text plus, when lengths changed, where each folded char came from."""

    text: str
    starts: tuple[int, ...] | _Offsets | None = None  # None: identity map
    ends: tuple[int, ...] | _Offsets | None = None
    joints: frozenset[int] = frozenset()  # view indices right after a removed separator

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original ``[start, end)`` for folded ``[i, j)``."""
        if self.starts is None or self.ends is None:
            return i, j
        return self.starts[i], self.ends[j - 1]


def _contextual(text: str, starts: list[int] | None, ends: list[int] | None,
                spaced: bool = True, leet: bool = True, joints: set[int] | None = None
                ) -> tuple[str, list[int] | None, list[int] | None]:
    """Collapse space runs, join spaced-out single letters, then fold leetspeak inside letter words.
    ``spaced``/``leet`` False skips a step the prefilter has proved a no-op."""
    if needs_collapse(text):
        text, starts, ends = _collapse_spaces(text, starts, ends)
    if spaced and SPACED_RE.search(text):
        leet = True
        if starts is None or ends is None:
            starts = list(range(len(text)))
            ends = list(range(1, len(text) + 1))
        keep: list[int] = []
        pos = 0
        for m in SPACED_RE.finditer(text):
            keep.extend(range(pos, m.start()))
            toks: list[int] = []
            for k, ch in enumerate(m.group()):
                if not _SEP_RE.match(ch):
                    toks.append(len(keep))
                    keep.append(m.start() + k)
            # the run reads as one word ("s k i l l s" is not "kill"); only a leading or trailing "a" or "i" may be
            # a word of its own ("do I k i l l him"): a joint after or before it
            if joints is not None and len(toks) >= 2:
                if text[keep[toks[0]]] in "ai":
                    joints.add(toks[0] + 1)
                if text[keep[toks[-1]]] in "ai":
                    joints.add(toks[-1])
            pos = m.end()
        keep.extend(range(pos, len(text)))
        text = "".join(text[k] for k in keep)
        starts = [starts[k] for k in keep]
        ends = [ends[k] for k in keep]
    if leet:
        text = fold_leet(text, joints)
    return text, starts, ends


_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
#: a space between two Chinese characters ("自 杀", "自-杀" once folded): not a word break in Chinese
HAN_GAP_RE = re.compile(f"[{_HAN}] +[{_HAN}]")


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def needs_collapse(view: str) -> bool:
    """The folded text holds a run of spaces, or a space between two Chinese characters (``_collapse_spaces``)."""
    return "  " in view or HAN_GAP_RE.search(view) is not None


def _collapse_spaces(text: str, starts: list[int] | None, ends: list[int] | None) -> tuple[str, list[int], list[int]]:
    """A run of spaces (after the fold: also tabs, line breaks, ``-``, ``_``, ``.``) as one space, and none between
    two Chinese characters, with offsets: "pipe  bomb" and "pipe - bomb" read "pipe bomb", "自 - 杀" reads "自杀"
    (the compiled fold does the same)."""
    if starts is None or ends is None:
        starts = list(range(len(text)))
        ends = list(range(1, len(text) + 1))
    keep: list[int] = []
    k, n = 0, len(text)
    while k < n:
        if text[k] != " ":
            keep.append(k)
            k += 1
            continue
        j = k
        while j < n and text[j] == " ":
            j += 1
        if not (keep and j < n and _is_han(text[keep[-1]]) and _is_han(text[j])):
            keep.append(k)
        k = j
    return "".join(text[k] for k in keep), [starts[k] for k in keep], [ends[k] for k in keep]


def fold_leet(text: str, joints: set[int] | None = None) -> str:
    """``LEET_RE`` applied (same length); a closing run that starts with ``PUNCT_LEET`` adds a joint to ``joints``."""
    if joints is None:
        return LEET_RE.sub(_leet_run, text)

    def run(m: re.Match[str]) -> str:
        if m.group("close") and m.group()[0] in PUNCT_LEET:
            joints.add(m.start())
        return m.group().translate(LEET_TABLE)

    return LEET_RE.sub(run, text)


#: Frequent one-to-one folds (full-width CJK punctuation) that the view always replaces and
#: the matcher's fold literals never report (that would be a callback per comma).
COMMON_FOLD = "，：；？！（）"


def _fold_listed(text: str, hints: Iterable[str], t: FoldTables) -> tuple[str, list[int] | None, list[int] | None]:
    """The per-character fold of ``text`` when the prefilter listed each folding non-ASCII
    character present ("f:<c>": one-to-one into a lower-case fixed point; "m:<c>": deleted
    or expanded), with no other case-changing non-ASCII character: C-speed ``replace`` and
    ``lower`` instead of a per-character ``translate``; offsets only around deletions and
    expansions. Same result as the general path."""
    one = t.one
    multis: list[str] = []
    folded = text
    for c in COMMON_FOLD:  # never listed by the prefilter
        if c in folded:
            folded = folded.replace(c, one[ord(c)])
    for tag in hints:
        head = tag[:2]
        if head == "f:":
            c = tag[2:]
            folded = folded.replace(c, one[ord(c)])
        elif head == "m:":
            multis.append(tag[2:])
    if not multis:
        return ascii_fold(folded), None, None
    at: list[int] = []
    for c in multis:
        k = folded.find(c)
        while k >= 0:
            at.append(k)
            k = folded.find(c, k + 1)
    at.sort()
    multi = t.multi
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for k in at:
        if k > pos:
            out.append(folded[pos:k].lower())
            starts.extend(range(pos, k))
            ends.extend(range(pos + 1, k + 1))
        for x in multi[ord(folded[k])]:
            out.append(x)
            starts.append(k)
            ends.append(k + 1)
        pos = k + 1
    if pos < len(folded):
        out.append(folded[pos:].lower())
        starts.extend(range(pos, len(folded)))
        ends.extend(range(pos + 1, len(folded) + 1))
    return ascii_fold("".join(out)), starts, ends


# ---------------------------------------------------------------- compiled fold (optional)

ENV_NATIVE = "ETHICS_REVIEW_NATIVE"


#: What the compiled fold returns for one text: (view, starts, ends, joints); starts and ends are
#: int32 arrays (bytes), both None when the view has the text's length, joints None when empty.
NativeFold = tuple[str, bytes | None, bytes | None, tuple[int, ...] | None]


class Native(Protocol):
    """The compiled extension ``_native`` (``_native.c``, no stubs), typed at its import boundary.
    Capsules (``model_new``, ``kb_new``) are opaque: only passed back to the module."""

    def set_tables(self, table: dict[int, str], /) -> None: ...
    def fold(self, text: str, /) -> NativeFold: ...
    def fold_batch(self, texts: Sequence[str], /) -> tuple[bytes, bytes, bytes, list[int]]: ...
    def fold_views(self, texts: Sequence[str], /) -> tuple[bytes, object]: ...
    def fold_scan(self, texts: list[str], model: object | None, max_chars: int, kb: object | None, k: int, t: float, /
                  ) -> tuple[bytes, object, list[tuple[tuple[int, ...], int, float]] | None, list[bool] | None]: ...
    def plain_fields(self, objs: list[Any], product: str | None, modalities: tuple[str, ...], max_id: int,
                     cand: list[int] | None, /) -> tuple[list[str], list[tuple[str, Any]], list[str], int] | None: ...
    def resolve_hits(self, views: object, buf: bytes, flat: list[int], lens: bytes, flags: bytes, n_terms: int, /
                     ) -> list[tuple[int, int, int, int]]: ...
    def feature_hash(self, feature: str, /) -> int: ...
    def model_new(self, weights: dict[str, list[float]], n_classes: int, /) -> object: ...
    def model_sums(self, model: object, text: str, max_chars: int, /) -> tuple[tuple[int, ...], int, float]: ...
    def model_sums_many(self, model: object, texts: list[str], max_chars: int, /) -> list[tuple[tuple[int, ...], int, float]]: ...
    def softmax_many(self, rows: list[tuple[tuple[int, ...], int, float]], bias: tuple[float, ...], scale: float, min_norm: float,
                     inv_t: float, min_ev: float, safe: int, rank: tuple[int, ...], /) -> list[tuple[int, float]]: ...
    def kb_new(self, exemplars: Sequence[set[str]], /) -> object: ...
    def kb_could_match(self, kb: object, text: str, k: int, threshold: float, /) -> bool: ...
    def spaced_hits(self, buf: bytes, /) -> list[int]: ...
    def han_gaps(self, buf: bytes, bits: bytes, /) -> list[int]: ...
    def split_words(self, texts: Sequence[str], /) -> list[tuple[int, int, int]]: ...
    def split_tokens(self, texts: Sequence[str], views: object, /) -> tuple[list[str], bytes]: ...
    def term_view(self, buf: bytes, /) -> bytes: ...


_NATIVE: list[Native | None] = []  # [module or None] once loaded
class _Reference(threading.local):
    on = False  # a class default: reading it raises no AttributeError in a thread that never set it (cheap per call)


_REFERENCE = _Reference()


def native() -> Native | None:
    """The compiled fold (``_native``, built from ``_native.c`` at install) with this
    process's tables installed, or None: not built, ``ETHICS_REVIEW_NATIVE=0``, or inside
    ``python_reference()``. Same views as the Python reference (pinned by differential
    tests), ~50x faster."""
    if _REFERENCE.on:
        return None
    if not _NATIVE:
        mod: Native | None = None
        if os.environ.get(ENV_NATIVE, "").strip().lower() not in ("0", "false", "no", "off"):
            try:
                from review.domain.content import _native
            except ImportError:  # pragma: no cover - no compiler at install time
                mod = None
            else:
                mod = _native
        if mod is not None:
            mod.set_tables({cp: (f or "") for cp, f in tables().full.items()})
        _NATIVE.append(mod)
    return _NATIVE[0]


SPLIT_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:[-._]+[A-Za-z0-9]+)+")
_ONE_SPLIT_RE = re.compile(r"[A-Za-z0-9][-._][A-Za-z0-9]")
_LETTER_RE = re.compile(r"[A-Za-z]")


def split_words(texts: Sequence[str]) -> list[tuple[int, int, int]]:
    """(text index, start, end) of every word a separator splits (``mur-der``, ``ak-47``, ``www.example.com``): a
    maximal run of ASCII letters, digits and ``-._`` from a letter or digit to a letter or digit, with one separator
    between two of them somewhere and a letter in it (a number such as 3.14 is no word); the view reads it as several
    words (compiled when available)."""
    nat = native()
    if nat is not None:
        return nat.split_words(texts)
    return [(k, m.start(), m.end()) for k, t in enumerate(texts) for m in SPLIT_WORD_RE.finditer(t)
            if _ONE_SPLIT_RE.search(m.group()) and _LETTER_RE.search(m.group())]


@contextlib.contextmanager
def python_reference() -> Iterator[None]:
    """Within this block (this thread), ``native()`` is None: filters built and texts folded
    here use the pure-Python reference (tests compare the two)."""
    before = getattr(_REFERENCE, "on", False)
    _REFERENCE.on = True
    try:
        yield
    finally:
        _REFERENCE.on = before


class _Offsets:
    """An int32 offset array from the compiled fold (indexable like the tuple it replaces)."""

    __slots__ = ("_m",)

    def __init__(self, raw: bytes):
        self._m = memoryview(raw).cast("i")

    def __getitem__(self, k: int) -> int:
        return self._m[k]

    def __len__(self) -> int:
        return len(self._m)

    def __iter__(self) -> Iterator[int]:
        return iter(self._m)


_NO_JOINTS: frozenset[int] = frozenset()


def native_view(text: str, fold: Callable[[str], NativeFold]) -> MatchView:
    v, starts, ends, joints = fold(text)
    if starts is None:
        return MatchView(v, None, None, frozenset(joints) if joints else _NO_JOINTS)
    return MatchView(v, _Offsets(starts), _Offsets(ends), frozenset(joints) if joints else _NO_JOINTS)  # type: ignore[arg-type]  # ends is bytes when starts is


def match_view(text: str, hints: frozenset[str] | set[str] | None = None) -> MatchView:
    """The folded view of ``text`` with an offset map (identity when lengths are unchanged).

    Compiled when available (``native()``); otherwise the Python reference, where ``hints``
    (from the Hyperscan prefilter: ``sus``, ``spaced``, ``leet``) lets the view skip checks
    the prefilter has already proved unnecessary; the result is the same."""
    nat = native()
    if nat is not None:
        return native_view(text, nat.fold)
    return match_view_py(text, hints)


def match_view_py(text: str, hints: frozenset[str] | set[str] | None = None) -> MatchView:
    """The Python reference of ``match_view`` (also the fallback without the extension)."""
    t = tables()
    sus = hints is None or "sus" in hints
    if text.isascii():
        folded, starts, ends = ascii_fold(text), None, None  # == translate(ascii_table)
    elif hints is not None and "fx" in hints and "fold" not in hints:
        folded, starts, ends = _fold_listed(text, hints, t)
    elif not sus or t.multi_re.search(text) is None:
        folded, starts, ends = text.translate(t.one), None, None
    else:
        out: list[str] = []
        starts, ends = [], []
        one, multi = t.one, t.multi
        for k, ch in enumerate(text):
            cp = ord(ch)
            f = multi.get(cp)
            if f is None:
                out.append(one.get(cp, ch))
                starts.append(k)
                ends.append(k + 1)
            else:
                for x in f:
                    out.append(x)
                    starts.append(k)
                    ends.append(k + 1)
        folded = "".join(out)
    joints: set[int] = set()
    if hints is None or sus:
        folded, starts, ends = _contextual(folded, starts, ends, joints=joints)
    else:
        folded, starts, ends = _contextual(folded, starts, ends, "spaced" in hints, "leet" in hints, joints)
    return MatchView(folded, None if starts is None else tuple(starts), None if ends is None else tuple(ends),
                     frozenset(joints))


def fold_text(text: str) -> str:
    """The folded view without offsets (for shingles and features)."""
    nat = native()
    if nat is not None:
        return nat.fold(text)[0]
    t = tables()
    folded = text.translate(t.ascii_table) if text.isascii() else text.translate(t.full)
    return _contextual(folded, None, None)[0]


def canonical_term(term: str) -> str:
    """A library term in match-view form (the same folds as the text)."""
    return fold_text(term.strip())
