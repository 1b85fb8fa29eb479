"""The canonical incident shape every source adapter produces (see incident_current)."""

from __future__ import annotations

# column -> DuckDB type; order is the order of incident_current's data columns.
COLUMNS: dict[str, str] = {
    "source_event_id": "VARCHAR",
    "event_date": "DATE",
    "date_end": "DATE",
    "date_precision": "INTEGER",
    "country": "VARCHAR",
    "admin1": "VARCHAR",
    "admin2": "VARCHAR",
    "admin3": "VARCHAR",
    "location": "VARCHAR",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "geo_precision": "INTEGER",
    "event_type": "VARCHAR",
    "sub_event_type": "VARCHAR",
    "disorder_type": "VARCHAR",
    "actor1": "VARCHAR",
    "assoc_actor_1": "VARCHAR",
    "inter1": "VARCHAR",
    "actor2": "VARCHAR",
    "assoc_actor_2": "VARCHAR",
    "inter2": "VARCHAR",
    "civilian_targeting": "VARCHAR",
    "fatalities": "INTEGER",
    "fatalities_low": "INTEGER",
    "fatalities_high": "INTEGER",
    "target_type": "VARCHAR",
    "target_name": "VARCHAR",
    "target_nationality": "VARCHAR",
    "perpetrator_iso3": "VARCHAR",
    "notes": "VARCHAR",
    "source_reference": "VARCHAR",
    "source_url": "VARCHAR",
    "tags": "VARCHAR",
    "source_updated_at": "TIMESTAMP",
}

# Columns whose raw text is kept beside the parsed value so a failed parse can be explained.
CHECKED_TEXT = ("event_date", "date_end", "latitude", "longitude", "fatalities", "fatalities_low",
                "fatalities_high", "date_precision", "geo_precision", "source_updated_at")

# A staged column naming the source columns of a row that hold a NUL byte (NULL when none do): text with
# NUL cannot be shown or exported faithfully, so checks.yml rejects such rows instead of storing them.
NUL_COLUMNS = "_nul_columns"

# Columns that define an incident's content: a change in any of them is a revision.
# (country_iso3 is derived from country, so it is not part of it.)
CONTENT = [c for c in COLUMNS if c != "source_event_id"] + ["extra"]
