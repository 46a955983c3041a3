"""Risk grades, ordered, so "the highest dimension level" is a plain ``max``."""

from __future__ import annotations

from enum import StrEnum


class Grade(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    UNACCEPTABLE = "UNACCEPTABLE"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Grade):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Grade):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Grade):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Grade):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {Grade.LOW: 0, Grade.MEDIUM: 1, Grade.HIGH: 2, Grade.UNACCEPTABLE: 3}
GRADES_ASCENDING: tuple[Grade, ...] = (Grade.LOW, Grade.MEDIUM, Grade.HIGH, Grade.UNACCEPTABLE)
