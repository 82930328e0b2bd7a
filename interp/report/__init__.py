"""Results and their views: :mod:`.results` (the data model every command writes: ``Result``, ``Table``,
``TokenTrace``, the manifest) and :mod:`.html` (self-contained offline HTML, notebook display, figure export).

``from interp import report; report.write_report(results, "report.html")`` is the usual entry.
"""
from interp.report.results import Result, ResultFileError, Table, TokenTrace, make_manifest  # noqa: F401
from interp.report import html  # noqa: F401  (registers the HTML view of the results)
from interp.report.html import (  # noqa: F401
    CSP, CSS, NEG_RGB, PLOTLY_CONFIG, PLOTLYJS_URL_HOSTS, POS_RGB, export_figures, figure_html, format_cell,
    notebook_html, plotlyjs, render, reset_notebook_plotlyjs, result_html, table_html, token_trace_html,
    write_report,
)

__all__ = ["Result", "ResultFileError", "Table", "TokenTrace", "make_manifest", "render", "write_report",
           "export_figures", "notebook_html", "reset_notebook_plotlyjs", "table_html", "token_trace_html"]
