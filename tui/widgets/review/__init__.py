from tui.widgets.review import panels
from tui.widgets.review.actions import ACTION_KEYS, ActionBar

__all__ = ["ACTION_KEYS", "ActionBar", "panels"]
