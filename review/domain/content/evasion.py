"""An evasion suite generated from a keyword library: every term, every class of everyday evasion that
applies to it, each embedded in an ordinary sentence (pure; ``ethics-review bench filter`` scores it).

Classes (a term gets the ones that apply to its shape):

- ``plain``: the term as written (the control: a miss here is a library or matcher bug);
- ``trailing_punct``: followed by ``!``, ``!!``, ``!?``, ``$`` or ``|``;
- ``whitespace``: two spaces, a tab or a newline between the words of a multi-word term;
- ``separators``: a hyphen, dot, underscore or soft hyphen between its words, or inside a single word;
- ``diacritics``: one vowel with a diacritic (``pïpe bomb``);
- ``greek``: Latin letters replaced by Greek look-alikes (``ο``, ``α``, ``ν``, ``τ``...);
- ``spaced_cjk``: a space or hyphen between the characters of a Chinese term;
- ``glued``: inside a longer token with no word boundary (``buyxanaxnow``);
- ``typo_swap`` / ``typo_drop``: two adjacent letters swapped / one letter missing (terms of 5+ letters).

Each case is (class, term, category, text); the text is built so that only the evasion stands between the
filter and the term.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CLASSES = ("plain", "trailing_punct", "whitespace", "separators", "diacritics", "greek", "spaced_cjk", "glued", "typo_swap",
           "typo_drop")
_DIACRITIC = {"a": "á", "e": "é", "i": "ï", "o": "ö", "u": "ü"}
_GREEK = {"o": "ο", "a": "α", "v": "ν", "t": "τ", "i": "ι", "k": "κ", "p": "ρ", "x": "χ", "y": "γ", "e": "ε"}
_FRAMES = ("Someone posted {} in the group chat yesterday.", "Tell me more about {}, please.", "I read that {} was trending.",
           "我看到有人在群里说{}，这正常吗？")


@dataclass(frozen=True)
class Case:
    cls: str
    term: str
    category: str
    text: str


def _is_cjk(term: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in term)


def _letters(term: str) -> bool:
    return term.isascii() and any(c.isalpha() for c in term)


def variants(term: str, rng: random.Random, typos: bool = True) -> dict[str, str]:
    """The evaded spellings of one term, by class (only the classes that apply to it: the typo classes only when
    the term's category matches ``typos: 1``)."""
    out: dict[str, str] = {"plain": term}
    words = term.split()
    if _letters(term):
        out["trailing_punct"] = term + rng.choice(("!", "!!", "!?", "$", "|"))
        if len(words) > 1:
            out["whitespace"] = rng.choice(("  ", "\t", "\n")).join(words)
            out["separators"] = rng.choice(("-", ".", "_", "\u00ad")).join(words)
        elif len(term) >= 4:
            k = len(term) // 2
            out["separators"] = term[:k] + rng.choice(("-", ".", "_", "\u00ad")) + term[k:]
        vowels = [i for i, c in enumerate(term) if c in _DIACRITIC]
        if vowels:
            i = rng.choice(vowels)
            out["diacritics"] = term[:i] + _DIACRITIC[term[i]] + term[i + 1:]
        greek = [i for i, c in enumerate(term) if c in _GREEK]
        if greek:
            chosen = set(rng.sample(greek, min(2, len(greek))))
            out["greek"] = "".join(_GREEK[c] if i in chosen else c for i, c in enumerate(term))
        out["glued"] = rng.choice(("buy", "get", "the", "my")) + term.replace(" ", "") + rng.choice(("now", "here", "tips", "pls"))
        letters = [i for i, c in enumerate(term) if c.isalpha()]
        if typos and len(letters) >= 5:
            pairs = [i for i in letters[1:-2] if term[i + 1].isalpha() and term[i] != term[i + 1]]
            if pairs:
                i = rng.choice(pairs)
                out["typo_swap"] = term[:i] + term[i + 1] + term[i] + term[i + 2:]
            i = rng.choice(letters[1:-1])
            out["typo_drop"] = term[:i] + term[i + 1:]
    elif _is_cjk(term) and len(term) >= 2:
        k = rng.randrange(1, len(term))
        out["spaced_cjk"] = term[:k] + rng.choice((" ", "-", " - ")) + term[k:]
    return out


def suite(terms: list[tuple[str, str]], *, seed: int = 7, typo_categories: set[str] | None = None) -> list[Case]:
    """Every (term, category) of a library under every evasion class that applies, in a sentence (the typo
    classes for the terms of ``typo_categories``, default all)."""
    rng = random.Random(seed)
    out: list[Case] = []
    for term, category in terms:
        typos = typo_categories is None or category in typo_categories
        for cls, spelled in variants(term, rng, typos).items():
            frame = _FRAMES[3] if _is_cjk(term) else rng.choice(_FRAMES[:3])
            out.append(Case(cls, term, category, frame.format(spelled)))
    return out
