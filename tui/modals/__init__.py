"""Small modal screens, one per file."""

from tui.modals.assign import AssignModal
from tui.modals.category_picker import CategoryChoice, CategoryPickerModal
from tui.modals.decide import DecideModal, DecisionRequest
from tui.modals.declare_conflict import DeclareConflictModal
from tui.modals.error import ConflictModal, ErrorModal
from tui.modals.override import OverrideGradeModal, OverrideRequest
from tui.modals.record_visit import RecordVisitModal, VisitRequest
from tui.modals.standing import StandingModal
from tui.modals.verify import VerifyControlModal, VerifyRequest
from tui.modals.waive import WaiveControlModal, WaiveRequest

__all__ = ["AssignModal", "CategoryChoice", "CategoryPickerModal", "ConflictModal", "DecideModal", "DecisionRequest", "DeclareConflictModal",
           "ErrorModal", "OverrideGradeModal", "OverrideRequest", "RecordVisitModal", "StandingModal", "VerifyControlModal", "VerifyRequest",
           "VisitRequest", "WaiveControlModal", "WaiveRequest"]
