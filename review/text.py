"""Untrusted text is text: make it safe to put on a terminal.

Product names, rationales, feedback and audited records may carry terminal escape
sequences (``ESC [``, OSC 8 links), other control characters or bidi overrides that make a
line read differently from its bytes. Neither function here interprets Rich markup; they
only neutralise characters:

* ``escaped`` (CLI): each such character as a visible escape (``\\x1b``, ``\\u202e``).
* ``visible`` (TUI): each such character as ONE visible stand-in (a control picture such as
  ``␛``, or ``�``), so the text keeps its length and the filter's spans still line up.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, and the bidi / invisible formatting
# characters that can make a terminal line read differently from its bytes.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escaped(text: Any) -> str:
    """``text`` with control and bidi characters shown as escapes (``\\x1b``, ``\\u202e``)."""
    s = "" if text is None else str(text)
    return UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", s)


def _picture(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def visible(text: Any) -> str:
    """``text`` with each control or bidi character replaced by one visible character (same length)."""
    s = "" if text is None else str(text)
    return UNSAFE.sub(lambda m: _picture(m.group()), s)


def unicode_lower(text: str | None) -> str | None:
    """SQLite's ``unicode_lower()``, for name searches the trigram index cannot answer (SQLite's own ``lower()``
    and ``LIKE`` fold ASCII only); registered on every connection that lists reviews."""
    return None if text is None else text.lower()
