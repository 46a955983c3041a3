"""Evaluation spot-check widgets: pure renderers for the sampled answers' labels, the verdict and progress."""

from tui.widgets.evalspot import render

__all__ = ["render"]
