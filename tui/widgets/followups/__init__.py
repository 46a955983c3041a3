"""Follow-up check widgets: pure renderers for the list and a check's visits."""

from tui.widgets.followups import render

__all__ = ["render"]
