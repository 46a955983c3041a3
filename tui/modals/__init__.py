"""Small modal screens, one per file."""

from tui.modals.decide import DecideModal, DecisionRequest
from tui.modals.declare_conflict import DeclareConflictModal
from tui.modals.error import ConflictModal, ErrorModal
from tui.modals.override import OverrideGradeModal, OverrideRequest
from tui.modals.verify import VerifyControlModal, VerifyRequest

__all__ = ["ConflictModal", "DecideModal", "DecisionRequest", "DeclareConflictModal", "ErrorModal", "OverrideGradeModal",
           "OverrideRequest", "VerifyControlModal", "VerifyRequest"]
