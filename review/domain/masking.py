"""Masking personal identifiers for people who may not see them (same length: spans stay put).

E-mail addresses, phone numbers, national ID numbers and card numbers keep their first and
last characters; every other letter or digit becomes ``•``. Punctuation stays, so a masked
address still reads as an address. ``PERSONAL_DATA_ROLES`` may see them unmasked (and each
such read is logged by the services).
"""

from __future__ import annotations

import re

PERSONAL_DATA_ROLES = frozenset({"chair", "admin"})

_PATTERNS = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail
    re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),  # CN resident ID
    re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)"),  # card numbers
    re.compile(r"(?<![\w+])\+\d[\d ()-]{7,}\d(?!\d)"),  # international phone numbers
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),  # CN mobile numbers
    re.compile(r"(?<!\d)\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"),  # NANP numbers
]


def may_see_personal_data(roles: str | set[str] | frozenset[str]) -> bool:
    have = set(roles.split(",")) if isinstance(roles, str) else set(roles)
    return bool(have & PERSONAL_DATA_ROLES)


def _mask(m: re.Match[str]) -> str:
    s = m.group()
    if len(s) <= 2:
        return "•" * len(s)
    return s[0] + "".join("•" if ch.isalnum() else ch for ch in s[1:-1]) + s[-1]


def mask_identifiers(text: str | None) -> str:
    """``text`` with identifiers masked, the same length (and the same positions) as before."""
    if not text:
        return text or ""
    for p in _PATTERNS:
        text = p.sub(_mask, text)
    return text


def mask_contact(contact: str | None) -> str | None:
    """A contact detail for someone who may not see it: masked, or a placeholder when it holds no identifier."""
    if not contact:
        return contact
    masked = mask_identifiers(contact)
    return masked if masked != contact else "(hidden: personal data)"
