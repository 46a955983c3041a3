"""Regex rules with validators (PII: Chinese national ID with checksum, phones, bank cards
with Luhn, email). Rules run on the ORIGINAL text, so spans need no mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_checksum(value: str) -> bool:
    """GB 11643-1999 check digit of an 18-character resident ID number."""
    v = value.upper()
    if len(v) != 18 or not v[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(v[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == v[17]


def luhn(value: str) -> bool:
    """Luhn (mod 10) check over the digits of ``value``; card numbers are 13-19 digits."""
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for k, d in enumerate(reversed(digits)):
        if k % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


VALIDATORS = {"none": None, "cn_id_checksum": cn_id_checksum, "luhn": luhn}


@dataclass(frozen=True)
class CompiledRule:
    id: str
    pattern: str
    regex: re.Pattern[str]
    category: str
    subcode: str | None
    severity: int
    validator: str

    def find(self, text: str) -> list[tuple[int, int, str]]:
        check = VALIDATORS[self.validator]
        out = []
        for m in self.regex.finditer(text):
            if check is None or check(m.group()):
                out.append((m.start(), m.end(), m.group()))
        return out


class RuleSpec(Protocol):
    """What ``compile_rule`` reads: the fields of a ``policies.content_schema.RegexRule``."""

    @property
    def id(self) -> str: ...
    @property
    def pattern(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def subcode(self) -> str | None: ...
    @property
    def severity(self) -> int: ...
    @property
    def validator(self) -> str: ...
    @property
    def ignore_case(self) -> bool: ...


def compile_rule(rule: RuleSpec) -> CompiledRule:
    """``rule`` is a ``policies.content_schema.RegexRule`` (or anything with its fields)."""
    flags = re.IGNORECASE if rule.ignore_case else 0
    return CompiledRule(rule.id, rule.pattern, re.compile(rule.pattern, flags), rule.category,
                        rule.subcode, rule.severity, rule.validator)
