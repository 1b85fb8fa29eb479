"""Benchmark: row checks as DuckDB flag columns, validated by Great Expectations via gx_engine.

    .venv/bin/python bench/bench_validate.py [--rows 1000000] [--repeat 2] [--raw]

Builds an incident-like table in DuckDB (with a known sprinkle of bad rows), computes 8 boolean
flags in one SQL query, hands only the flag columns to warehouse.gx_engine.run_suite and checks
that GX's unexpected counts equal DuckDB's own failure counts. ``--raw`` also times GX on the raw
columns (equivalent checks as plain expectations) for comparison; that path is slow and large.
"""

from __future__ import annotations

import argparse
import resource
import time

import duckdb

from warehouse.gx_engine import Check, run_suite

EVENT_TYPES = ["Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots",
               "Strategic developments"]

# Deterministic: every value is hash(row, k); roughly 1e-4 of rows are bad in each way.
GENERATE = f"""
CREATE OR REPLACE TABLE incidents AS
SELECT
    CASE WHEN i % 99991 = 5 THEN NULL
         ELSE 'EV' || lpad(CAST(CASE WHEN i % 49999 = 7 THEN i - 1 ELSE i END AS VARCHAR), 9, '0')
    END AS source_event_id,
    CASE WHEN hash(i, 1) % 10000 = 0 THEN DATE '2999-01-01'
         ELSE DATE '2016-01-01' + CAST(hash(i, 2) % 3650 AS INTEGER) END AS event_date,
    CASE WHEN hash(i, 3) % 10000 = 0 THEN 123.0
         ELSE 20 + (hash(i, 4) % 2000000) / 100000.0 END AS latitude,
    CASE WHEN hash(i, 5) % 10000 = 0 THEN NULL
         ELSE 60 + (hash(i, 6) % 3000000) / 100000.0 END AS longitude,
    CASE WHEN hash(i, 7) % 10000 = 0 THEN -1
         ELSE CAST(floor(-ln(1 - (hash(i, 8) % 1000000) / 1000000.0) * 1.5) AS INTEGER) END AS fatalities,
    CASE WHEN hash(i, 9) % 10000 = 0 THEN 'Unknown'
         ELSE {"[" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + "]"}[1 + CAST(hash(i, 10) % 6 AS INTEGER)]
    END AS event_type,
    CASE WHEN hash(i, 11) % 10000 = 0 THEN 'pk'
         ELSE ['PAK', 'AFG', 'IRN', 'IND'][1 + CAST(hash(i, 12) % 4 AS INTEGER)] END AS country_iso3
FROM range(?) AS t(i)
"""

# One pass; each flag is TRUE when the row passes. COALESCE matters: a NULL flag would be skipped
# by GX's column-map expectations (they ignore missing values) and so silently pass.
FLAGS = {
    "id_present": "source_event_id IS NOT NULL",
    "id_unique": "count(*) OVER (PARTITION BY source_event_id) = 1 OR source_event_id IS NULL",
    "date_ok": "event_date BETWEEN DATE '1997-01-01' AND current_date",
    "lat_ok": "latitude BETWEEN -90 AND 90",
    "lon_ok": "longitude BETWEEN -180 AND 180",
    "fatalities_ok": "fatalities >= 0",
    "event_type_ok": "event_type IN (" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + ")",
    "iso3_ok": "regexp_full_match(country_iso3, '[A-Z]{3}')",
}
FLAG_SQL = "SELECT " + ", ".join(f"COALESCE({sql}, FALSE) AS {name}" for name, sql in FLAGS.items()) + " FROM incidents"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="run_suite calls (the first one is cold)")
    parser.add_argument("--raw", action="store_true", help="also time GX directly on the raw columns")
    args = parser.parse_args()

    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(GENERATE, [args.rows])
    print(f"generate {args.rows:,} rows in DuckDB      {time.perf_counter() - t:7.3f} s")

    t = time.perf_counter()
    flags = con.execute(FLAG_SQL).df()
    print(f"DuckDB flags query (+ to pandas)       {time.perf_counter() - t:7.3f} s  "
          f"({len(FLAGS)} flags, {flags.memory_usage(deep=True).sum() / 2**20:.0f} MiB)")
    expected = {name: int((~flags[name]).sum()) for name in FLAGS}
    print(f"peak RSS before GX                     {peak_rss_mb():7.0f} MiB")

    t = time.perf_counter()
    import great_expectations  # noqa: F401 - timed here so run_suite below excludes it

    print(f"GX import                              {time.perf_counter() - t:7.3f} s")

    checks = [Check(name, "expect_column_values_to_be_in_set", {"column": name, "value_set": [True]},
                    severity="warning" if name == "event_type_ok" else "critical") for name in FLAGS]
    checks.append(Check("row_count", "expect_table_row_count_to_be_between", {"min_value": 1}))
    for attempt in range(args.repeat):
        t = time.perf_counter()
        results = run_suite("incident_flags", flags, checks)
        label = "cold" if attempt == 0 else "warm"
        print(f"GX run_suite ({label}, {len(checks)} expectations)      {time.perf_counter() - t:7.3f} s")
    got = {r.check_name: r.unexpected_count for r in results if r.check_name in FLAGS}
    if got != expected:
        raise SystemExit(f"GX and DuckDB disagree: {got} != {expected}")
    print("failing rows per flag (GX == DuckDB):  "
          + ", ".join(f"{k}={v}" for k, v in got.items()))
    print(f"peak RSS after GX                      {peak_rss_mb():7.0f} MiB")

    if args.raw:
        raw = con.execute("SELECT * FROM incidents").df()
        raw_checks = [
            Check("id_nn", "expect_column_values_to_not_be_null", {"column": "source_event_id"}),
            Check("id_unique", "expect_column_values_to_be_unique", {"column": "source_event_id"}),
            Check("lat", "expect_column_values_to_be_between",
                  {"column": "latitude", "min_value": -90, "max_value": 90}),
            Check("lon_nn", "expect_column_values_to_not_be_null", {"column": "longitude"}),
            Check("lon", "expect_column_values_to_be_between",
                  {"column": "longitude", "min_value": -180, "max_value": 180}),
            Check("fatalities", "expect_column_values_to_be_between", {"column": "fatalities", "min_value": 0}),
            Check("event_type", "expect_column_values_to_be_in_set",
                  {"column": "event_type", "value_set": EVENT_TYPES}),
            Check("iso3", "expect_column_values_to_match_regex", {"column": "country_iso3", "regex": "^[A-Z]{3}$"}),
        ]
        t = time.perf_counter()
        run_suite("incident_raw", raw, raw_checks)
        print(f"GX on raw columns ({len(raw_checks)} expectations)   {time.perf_counter() - t:7.3f} s")
        print(f"peak RSS after raw GX                  {peak_rss_mb():7.0f} MiB")


if __name__ == "__main__":
    main()
