"""Small modal screens, one per file."""

from tui.modals.category_picker import CategoryChoice, CategoryPickerModal
from tui.modals.decide import DecideModal, DecisionRequest
from tui.modals.declare_conflict import DeclareConflictModal
from tui.modals.error import ConflictModal, ErrorModal
from tui.modals.override import OverrideGradeModal, OverrideRequest
from tui.modals.record_visit import RecordVisitModal, VisitRequest
from tui.modals.verify import VerifyControlModal, VerifyRequest

__all__ = ["CategoryChoice", "CategoryPickerModal", "ConflictModal", "DecideModal", "DecisionRequest", "DeclareConflictModal",
           "ErrorModal", "OverrideGradeModal", "OverrideRequest", "RecordVisitModal", "VerifyControlModal", "VerifyRequest",
           "VisitRequest"]
