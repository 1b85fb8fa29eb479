"""`riskwatch demo`: the bundled sample, end to end, as one Prefect flow run."""

from __future__ import annotations

import os
from pathlib import Path

import warehouse

SAMPLE_DIR = Path(warehouse.__file__).parent / "sample"
DEMO_AS_OF = "2024-11-10"    # a Sunday: the report covers 4-10 November 2024
SAMPLE_FILES = [
    (str(SAMPLE_DIR / "ucdp_ged_pakistan.csv"), "ucdp"),
    (str(SAMPLE_DIR / "curated_pakistan_acled.csv"), "curated"),
]
EXAMPLE_QUERIES = [
    "SELECT period_start, value::INT AS attacks FROM indicator_values WHERE indicator = 'chinese_nationals_attacks' "
    "AND series = 'PAK' AND grain = 'quarter' AND value > 0 ORDER BY period_start",
    "SELECT series, strftime(period_start, '%Y') AS year, sum(value)::INT AS strikes FROM indicator_values "
    "WHERE indicator = 'cross_border_strikes' AND grain = 'quarter' GROUP BY ALL HAVING sum(value) > 0 ORDER BY 2, 1",
    # Why each counted: the tag row's confidence and evidence; each real event once, not once per source.
    "SELECT event_date, location, fatalities, confidence, evidence AS why FROM incidents "
    "JOIN incident_tags USING (incident_id) WHERE tag = 'target:chinese_nationals' "
    "AND duplicate_of IS NULL ORDER BY event_date DESC",
]


def run_demo(warehouse_path: str, as_of: str = DEMO_AS_OF, config: str | None = None) -> dict:
    # With no SMTP configured the emails land in the outbox; give them an addressee so they show.
    os.environ.setdefault("RISKWATCH_ALERT_TO", "analysts@example.org")
    os.environ.setdefault("RISKWATCH_REPORT_TO", "analysts@example.org")
    from flows.pipeline import pipeline

    return pipeline(warehouse=warehouse_path, as_of=as_of, files=SAMPLE_FILES, config=config)
