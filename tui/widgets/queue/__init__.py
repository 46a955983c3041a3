from tui.widgets.queue.filter_bar import FilterBar, Filters
from tui.widgets.queue.review_table import COLUMNS, SORT_KEYS, ReviewTable

__all__ = ["COLUMNS", "FilterBar", "Filters", "ReviewTable", "SORT_KEYS"]
