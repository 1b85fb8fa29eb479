"""riskwatch's own loggers reach the Prefect API (and so the UI) from inside flow and task runs.

Prefect sends only its own loggers (and PREFECT_LOGGING_EXTRA_LOGGERS) to the API, and those extra
loggers keep the root level (WARNING), so `reports.weekly`'s "written to" or `publish.mail`'s "sent via"
never showed on a run's page. Wiring it here, where the flows are imported, works in every process that
runs them (`riskwatch run`, `serve`, a worker's flow-run subprocess) without an environment variable.
"""

from __future__ import annotations

import logging

# The top-level packages of riskwatch (module loggers are named after their module, e.g. reports.weekly)
# and the "riskwatch" logger some modules share.
PROJECT_LOGGERS = ("riskwatch", "warehouse", "indicators", "validation", "alerts", "reports", "publish", "flows")


class _InRun(logging.Filter):
    """Pass records logged inside a flow or task run only: outside one the API has nothing to attach them
    to (Prefect's handler would warn on every such line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from prefect.context import FlowRunContext, TaskRunContext

        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


class _ProjectAPILogHandler(logging.Handler):
    """Marker base so wiring twice (re-import, tests) adds nothing."""


def send_project_logs_to_api() -> None:
    """Add Prefect's API log handler to riskwatch's loggers, at Prefect's log level (default INFO)."""
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_LOGGING_LEVEL

    class Handler(APILogHandler, _ProjectAPILogHandler):
        pass

    level = logging.getLevelName(str(PREFECT_LOGGING_LEVEL.value()).upper())
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if any(isinstance(h, _ProjectAPILogHandler) for h in logger.handlers):
            continue
        handler = Handler()
        handler.addFilter(_InRun())
        logger.addHandler(handler)
        if logger.level == logging.NOTSET and isinstance(level, int):
            logger.setLevel(level)
