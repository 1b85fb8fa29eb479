"""Kept so older imports work: the charts live in publish/charts.py (one library for report and emails)."""

from publish.charts import panel_png, panel_svg  # noqa: F401
