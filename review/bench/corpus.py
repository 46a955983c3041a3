"""A benchmark corpus that looks like real model traffic, and a library of real words.

Words are drawn by their real frequency (``wordfreq``'s English and Chinese lists), so common
words are common and the library's words meet the text at their natural rate. The text has
what chat traffic has and what a filter must get through: sentence case and proper nouns,
digits glued to letters (``5th``, ``H100``, ``v1.2.3``, ``$19.99``), ``!`` and ``?``, quotes and
apostrophes, URLs and e-mail addresses, inline code, Markdown tables and bullet lists,
paragraphs (newlines, escaped in JSONL), Chinese with full-width punctuation, Chinese and
English mixed in one sentence, and emoji.

The library (default 10,000 terms) is real words and phrases, not an alphabet of its own:
rarer English single words, two-word English phrases, and Chinese words and compounds. A
``hit_share`` of records also carries one library term, written in sentence case or as is,
so a known share of records must produce findings on top of the natural ones.
"""

from __future__ import annotations

import random
from bisect import bisect
from functools import lru_cache
from itertools import accumulate
from typing import Iterator

EMOJI = ("😀", "😂", "🙂", "😉", "😍", "🤔", "👍", "👏", "🙏", "🔥", "✅", "❌", "⭐", "🚀", "💡", "📌", "📈", "🎉", "❤️", "⚠️", "👉",
         "😅", "🤖", "👍🏽")
ZH_PUNCT_MID = "，，，、；："
ZH_PUNCT_END = "。。。。！？"
TLDS = ("com", "org", "io", "net", "cn", "dev")
NAMES = ("Alice", "Bob", "Zhang", "Mary", "OpenAI", "Python", "Linux", "GitHub", "Beijing", "London", "Nvidia", "Monday",
         "January", "Excel", "Docker", "Kubernetes", "Shanghai", "Paris", "Tesla", "Amazon")


class _Lang:
    """A frequency-weighted word sampler for one language."""

    def __init__(self, lang: str, n: int):
        from wordfreq import get_frequency_dict

        # the lists spell every digit 0 ("0000"): digits come from ``_token`` instead
        top = sorted(((w, f) for w, f in get_frequency_dict(lang).items() if "0" not in w), key=lambda kv: -kv[1])[:n]
        self.words = [w for w, _ in top]
        self.cum = list(accumulate(f for _, f in top))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        total = self.cum[-1]
        words, cum = self.words, self.cum
        return [words[min(bisect(cum, rng.random() * total), len(words) - 1)] for _ in range(k)]


@lru_cache(maxsize=None)
def _en() -> _Lang:
    return _Lang("en", 60_000)


@lru_cache(maxsize=None)
def _zh() -> _Lang:
    return _Lang("zh", 30_000)


def _token(rng: random.Random) -> str:
    """A digit-bearing or technical token of the kind real answers hold."""
    r = rng.random()
    if r < 0.2:
        n = rng.randint(1, 31)
        return f"{n}{'th' if 4 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
    if r < 0.35:
        return rng.choice(("H100", "A100", "GPT-4", "RTX4090", "M2", "x86_64", "IPv6", "COVID-19", "B2B", "3D", "4K", "5G"))
    if r < 0.5:
        return f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"
    if r < 0.65:
        return rng.choice(("$", "€", "¥")) + f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
    if r < 0.8:
        return f"{rng.randint(1, 99)}%"
    if r < 0.9:
        return str(rng.randint(1900, 2030))
    return f"{rng.randint(1, 999):,}{',000' if rng.random() < 0.3 else ''}"


def _url(rng: random.Random, en: _Lang) -> str:
    a, b = (w for w in en.draw(rng, 2))
    path = "/".join(en.draw(rng, rng.randint(0, 3)))
    q = f"?id={rng.randint(1, 99999)}&ref={b}" if rng.random() < 0.3 else ""
    return f"https://{'www.' if rng.random() < 0.5 else ''}{a}{b}.{rng.choice(TLDS)}/{path}{q}".replace("'", "")


def _en_sentence(rng: random.Random, question: bool = False) -> str:
    en = _en()
    words = en.draw(rng, rng.randint(5, 24))
    for k in range(len(words)):
        r = rng.random()
        if r < 0.04:
            words[k] = _token(rng)
        elif r < 0.07:
            words[k] = rng.choice(NAMES)
        elif r < 0.075:
            words[k] = _url(rng, en)
        elif r < 0.078:
            words[k] = f"{en.draw(rng, 1)[0]}.{en.draw(rng, 1)[0]}@{en.draw(rng, 1)[0]}.{rng.choice(TLDS)}".replace("'", "")
        elif r < 0.085:
            words[k] = f"`{words[k]}()`"
        elif r < 0.09:
            words[k] = f'"{words[k]}"'
        elif r < 0.095:
            words[k] = f"({words[k]})"
        elif r < 0.12 and k < len(words) - 1:
            words[k] += ","
        elif r < 0.125:
            words[k] = words[k].upper()
    words[0] = words[0][:1].upper() + words[0][1:]
    end = "?" if question else rng.choice(".........!?:")
    s = " ".join(words) + end
    if rng.random() < 0.06:
        s += rng.choice(("!!", "!?", " :)", " ;)", "..."))
    if rng.random() < 0.08:
        s += " " + rng.choice(EMOJI)
    return s


def _zh_sentence(rng: random.Random, question: bool = False) -> str:
    zh, en = _zh(), _en()
    parts: list[str] = []
    for w in zh.draw(rng, rng.randint(6, 22)):
        r = rng.random()
        if r < 0.04:
            parts.append(_token(rng))
        elif r < 0.08:
            parts.append(" " + rng.choice((*NAMES, *en.draw(rng, 1))) + " ")
        elif r < 0.16:
            parts.append(w + rng.choice(ZH_PUNCT_MID))
        elif r < 0.17:
            parts.append("“" + w + "”")
        else:
            parts.append(w)
    s = "".join(parts).strip() + ("？" if question else rng.choice(ZH_PUNCT_END))
    if rng.random() < 0.06:
        s += rng.choice(EMOJI)
    return s


def _sentence(rng: random.Random, lang: str, question: bool = False) -> str:
    if lang == "mixed":
        lang = rng.choice(("en", "zh"))
    return _en_sentence(rng, question) if lang == "en" else _zh_sentence(rng, question)


def _table(rng: random.Random) -> str:
    en = _en()
    cols = [w.capitalize() for w in en.draw(rng, rng.randint(2, 4))]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _ in range(rng.randint(2, 5)):
        rows.append("| " + " | ".join(rng.choice((en.draw(rng, 1)[0], _token(rng), str(rng.randint(0, 500)))) for _ in cols) + " |")
    return "\n".join(rows)


def _paragraph(rng: random.Random, lang: str) -> str:
    r = rng.random()
    if r < 0.07:
        return _table(rng)
    if r < 0.17:
        bullet = rng.choice(("- ", "* ", "1. "))
        return "\n".join(bullet + _sentence(rng, lang) for _ in range(rng.randint(2, 5)))
    if r < 0.2:
        return "**" + _sentence(rng, lang).rstrip(".!?。！？") + "**"
    return " ".join(_sentence(rng, lang) for _ in range(rng.randint(1, 4)))


def realistic_library(n: int = 10_000, seed: int = 7) -> list[str]:
    """``n`` real terms: 30% rarer English words (frequency ranks 15,000-60,000), 30% two-word English
    phrases (pairs of words of ranks 300-20,000), 40% Chinese words (frequency ranks 15,000-30,000) and two-word compounds."""
    rng = random.Random(seed)
    en, zh = _en().words, _zh().words
    out: set[str] = set()
    stems = {"doesn", "didn", "isn", "wasn", "couldn", "wouldn", "shouldn", "aren", "weren", "hasn", "haven", "hadn"}
    stems |= {n.lower() for n in NAMES}  # the names the text uses on purpose are not library terms
    singles = [w for w in en[15_000:60_000] if w.isalpha() and len(w) >= 4 and w not in stems]  # not a contraction's stem
    zh_words = [w for w in zh[15_000:30_000] if all("\u4e00" <= c <= "\u9fff" for c in w)]
    phrase_words = [w for w in en[300:20_000] if w.isalpha() and len(w) >= 3]
    while len(out) < n:
        r = rng.random()
        if r < 0.3:
            out.add(rng.choice(singles))
        elif r < 0.6:
            out.add(f"{rng.choice(phrase_words)} {rng.choice(phrase_words)}")
        elif r < 0.8:
            w = rng.choice(zh_words)
            if len(w) >= 2:
                out.add(w)
        else:
            out.add(rng.choice(zh_words) + rng.choice(zh_words))
    return sorted(out)


def realistic_records(n: int, library: list[str], *, hit_share: float = 0.03, seed: int = 5) -> Iterator[dict[str, str]]:
    """``n`` records ``{"id", "prompt", "output"}``: 65% English, 20% Chinese, 15% mixed; a prompt of one or
    two sentences (the last a question), an answer of one to five paragraphs. ``hit_share`` of the records
    carry one library term on top of what the words bring by themselves."""
    rng = random.Random(seed)
    for k in range(n):
        r = rng.random()
        lang = "en" if r < 0.65 else "zh" if r < 0.85 else "mixed"
        prompt = " ".join(_sentence(rng, lang, question=(j == 1)) for j in range(rng.randint(1, 2)))
        output = "\n\n".join(_paragraph(rng, lang) for _ in range(rng.randint(1, 5)))
        if rng.random() < hit_share:
            term = rng.choice(library)
            if rng.random() < 0.3:
                term = term[:1].upper() + term[1:]
            at = rng.randint(0, len(output))
            while at < len(output) and output[at - 1:at].isalnum():  # between words
                at += 1
            output = f"{output[:at]} {term} {output[at:]}"
        yield {"id": f"r{k}", "prompt": prompt, "output": output}
