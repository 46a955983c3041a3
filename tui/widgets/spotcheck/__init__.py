"""Spot-check labelling widgets: pure renderers for spans, labels and progress."""

from tui.widgets.spotcheck import render

__all__ = ["render"]
