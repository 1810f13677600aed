"""Every number the project reports, beside the paper's: ``summary.csv`` and its markdown views.

* :mod:`.paper` -- the paper's values with their sources, tolerances, and the status of a row;
* :mod:`.summary` -- the table's columns, building rows (:func:`result_row`, :func:`skipped_row`),
  reading and merging the CSV atomically under a lock;
* :mod:`.render` -- the README's long table and the report's wide tables per task.
"""

from .paper import (
    MATCH_MIN,
    PAPER_REFS,
    PAPER_VALUES,
    THIRD_PARTY,
    TOLERANCES,
    PaperValue,
    decide_status,
    paper_reference,
    paper_value,
)
from .render import TASK_TITLES, markdown_table, reading_order, render_markdown, render_report, render_wide
from .summary import (
    COLUMNS,
    KEY,
    PERCENT_METRICS,
    STATUSES,
    TASKS,
    current_commit,
    read_summary,
    result_row,
    skipped_row,
    write_summary,
)

__all__ = [
    "COLUMNS",
    "KEY",
    "TASKS",
    "STATUSES",
    "PERCENT_METRICS",
    "PaperValue",
    "PAPER_VALUES",
    "THIRD_PARTY",
    "TOLERANCES",
    "PAPER_REFS",
    "MATCH_MIN",
    "TASK_TITLES",
    "paper_value",
    "decide_status",
    "result_row",
    "skipped_row",
    "current_commit",
    "write_summary",
    "read_summary",
    "markdown_table",
    "render_markdown",
    "paper_reference",
    "render_report",
    "reading_order",
    "render_wide",
]
