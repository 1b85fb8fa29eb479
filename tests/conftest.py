"""Shared fixtures: real DuckDB files in tmp dirs, real-shaped CSVs, the bundled samples."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from tests import lake_mode
from warehouse import db

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "warehouse" / "sample"
SHARED = Path(os.environ.get("RISKWATCH_SHARED_DATA", ROOT.parent / "shared" / "data"))

ACLED_COLUMNS = (
    "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,"
    "assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,"
    "admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,"
    "tags,timestamp"
).split(",")


def acled_row(**overrides) -> dict[str, str]:
    """One ACLED export row in the real shape (2024 Karachi airport attack), fields overridable."""
    row = dict.fromkeys(ACLED_COLUMNS, "")
    row.update(
        event_id_cnty="PAK140001", event_date="2024-10-06", year="2024", time_precision="1",
        disorder_type="Political violence", event_type="Explosions/Remote violence",
        sub_event_type="Suicide bomb", actor1="BLA: Baloch Liberation Army", inter1="Rebel group",
        actor2="Civilians (China)", inter2="Civilians", interaction="Rebel group-Civilians",
        civilian_targeting="Civilian targeting", iso="586", region="Southern Asia", country="Pakistan",
        admin1="Sindh", admin2="Karachi", admin3="Karachi City", location="Karachi - Jinnah Airport",
        latitude="24.9008", longitude="67.1681", geo_precision="1", source="Dawn; Reuters",
        source_scale="National-International",
        notes="On 6 October 2024, a suicide car bomb hit a convoy of Chinese engineers near Karachi airport.",
        fatalities="3", tags="", timestamp="1728500000",
    )
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0].keys())
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "riskwatch.duckdb"


@pytest.fixture(scope="session")
def empty_warehouse(tmp_path_factory) -> Path:
    """A new warehouse (migrated, views applied), made once per session: making one costs ~0.2 s, a copy ~ms."""
    path = tmp_path_factory.mktemp("empty") / "riskwatch.duckdb"
    db.connect(path).close()
    return path


@pytest.fixture
def con(warehouse_path: Path, empty_warehouse: Path):
    clone_warehouse(empty_warehouse, warehouse_path)
    connection = db.connect(warehouse_path)
    yield connection
    connection.close()


def clone_warehouse(src: Path, dst: Path) -> Path:
    """A test's own copy of the warehouse built at `src` (closed): the one place tests copy a warehouse, so a
    fixture can build one per module and each test change its clone. Embedded: the file; on a lake (lake mode)
    its catalog schema and data files (tests/lake_mode.py clone_lake)."""
    from riskwatch.settings import load_settings

    source = load_settings(src).lake
    if source is None:
        if Path(f"{src}.wal").exists():
            raise AssertionError(f"{src} is still open (its .wal exists): close it before cloning")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return dst
    lake_mode.clone_lake(source, load_settings(dst).lake)
    return dst


def riskwatch_in_process(warehouse: Path, *args: str, env: dict[str, str] | None = None):
    """`riskwatch --warehouse WAREHOUSE ARGS` run in this process by click's CliRunner (no interpreter start, no
    second import of GX): for tests about what a command does, not about the process (signals, a real exit status,
    locks between processes). Returns click's Result; `.exception` holds an escaped exception."""
    from click.testing import CliRunner

    from riskwatch.cli import cli

    return CliRunner().invoke(cli, ["--warehouse", str(warehouse), *args], env=env)


def shared(relpath: str) -> Path:
    path = SHARED / relpath
    if not path.exists():
        pytest.skip(f"{path} not available (../shared/data is optional)")
    return path


def pytest_collection_modifyitems(config, items):
    if lake_mode.enabled():
        for item in items:
            mark = item.get_closest_marker("embedded_only")
            if mark is not None:
                why = mark.args[0] if mark.args else "about the embedded DuckDB file"
                item.add_marker(pytest.mark.skip(reason=f"embedded backend only: {why}"))


@pytest.fixture(scope="session", autouse=True)
def backend():
    """'duckdb' (default), or 'ducklake' with RISKWATCH_TEST_BACKEND=ducklake: then every warehouse of the
    session is a lake in a PostgreSQL database made for the session (tests/lake_mode.py)."""
    if not lake_mode.enabled():
        yield "duckdb"
        return
    name = lake_mode.create_database()
    saved = {k: os.environ.get(k) for k in ("RISKWATCH_BACKEND", "RISKWATCH_CATALOG")}
    os.environ.update(RISKWATCH_BACKEND="ducklake", RISKWATCH_CATALOG=lake_mode.catalog(name))
    try:
        yield "ducklake"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        lake_mode.drop_database(name)


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness per session, shared by every flow test (starting one costs seconds)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
