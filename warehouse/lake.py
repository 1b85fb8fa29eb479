"""The DuckLake backend: the warehouse as a lake (catalog in PostgreSQL or SQLite, data as Parquet files).

DuckDB's extensions come from the installed `duckdb-extension-<name>` packages, pinned to DuckDB's version,
and are never downloaded: a private extension directory holds links to those packages' files under the
names DuckDB looks for (the postgres package ships `postgres.duckdb_extension`, whose entry point is
`postgres_scanner`). One connection = an in-memory DuckDB with the lake attached as `lake` and made the
default catalog, so every unqualified name (tables, views, macros) is the lake's and temp tables stay local.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from riskwatch.settings import Lake
from warehouse.redact import redact

T = TypeVar("T")
ALIAS = "lake"
# DuckDB's name for an extension -> (the package holding it, the file name in that package).
PACKAGES = {"ducklake": ("duckdb_extension_ducklake", "ducklake"),
            "postgres_scanner": ("duckdb_extension_postgres", "postgres"),
            "sqlite_scanner": ("duckdb_extension_sqlite", "sqlite")}
NEEDS = {"postgres": "postgres_scanner", "sqlite": "sqlite_scanner"}


class LakeError(RuntimeError):
    """The lake cannot be opened (catalog unreachable, extension missing, not a lake yet)."""


@functools.cache
def _platform() -> str:
    with duckdb.connect() as con:
        return con.execute("PRAGMA platform").fetchone()[0]


def extension_folder() -> Path:
    """Where the packaged extensions are linked as <name>.duckdb_extension: <extension_directory>/v<version>/
    <platform>, the extension_directory DuckDB is given being folder.parents[1]."""
    version = f"v{duckdb.__version__}"
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "riskwatch" / "duckdb-extensions"
    if not os.access(root.parent if root.parent.exists() else Path.home(), os.W_OK):
        root = Path(tempfile.gettempdir()) / f"riskwatch-duckdb-extensions-{os.getuid()}"
    # One directory per Python environment: two virtualenvs (a checkout's and a CI clone's) never re-point
    # each other's links.
    env = hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]
    folder = root / env / version / _platform()
    folder.mkdir(parents=True, exist_ok=True)
    for name, (package, file) in PACKAGES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.origin:
            continue
        src = Path(spec.origin).parent / "extensions" / version / f"{file}.duckdb_extension"
        dst = folder / f"{name}.duckdb_extension"
        if src.is_file() and (not dst.is_symlink() or os.readlink(dst) != str(src)):
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(src)
            os.replace(tmp, dst)   # atomic: concurrent processes never see a half-made link
    return folder


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def attach(con: duckdb.DuckDBPyConnection, lake: Lake, *, read_only: bool = False, snapshot_version: int | None = None,
           snapshot_time: str | None = None) -> None:
    """ATTACH the lake as `lake` (creating it when writable and new) and make it the default catalog."""
    for name in _needed(lake):
        try:
            con.execute(f"LOAD {name}")
        except duckdb.Error as exc:
            package = PACKAGES[name][0].replace("_", "-")
            raise LakeError(f"DuckDB extension {name} is not installed: pip install {package}=={duckdb.__version__}"
                            ) from exc
    options = []
    if not (read_only or snapshot_version is not None or snapshot_time):
        options.append(f"DATA_PATH {_quote(lake.data_path)}")
    if lake.metadata_schema and lake.kind == "postgres":
        options.append(f"METADATA_SCHEMA {_quote(lake.metadata_schema)}")
    if read_only:
        options.append("READ_ONLY")
    if snapshot_version is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot_version)}")
    if snapshot_time:
        options.append(f"SNAPSHOT_TIME {_quote(snapshot_time)}")
    target = lake.catalog if lake.kind != "duckdb" else lake.catalog.removeprefix("duckdb:")
    if not read_only and lake.kind in ("sqlite", "duckdb"):
        Path(target.split(":", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    if not read_only and "://" not in lake.data_path:
        Path(lake.data_path).mkdir(parents=True, exist_ok=True)
    try:
        con.execute(f"ATTACH {_quote('ducklake:' + target)} AS {ALIAS} ({', '.join(options)})")
    except duckdb.Error as exc:
        first = redact(str(exc).splitlines()[0])
        if read_only and ("does not exist" in first or "not initialized" in first.lower()
                          or "no such" in first.lower()):
            raise LakeError(f"no lake in catalog {redact(lake.catalog)} (schema {lake.metadata_schema or 'main'}): "
                            "run `riskwatch ingest` or `riskwatch warehouse migrate --to ducklake` first") from exc
        raise LakeError(f"cannot open the lake (catalog {redact(lake.catalog)}): {first}") from exc
    con.execute(f"USE {ALIAS}")


# The extension files (path, size, mtime) DuckDB has verified the signature of in this process.
_VERIFIED: set[tuple] = set()


def _needed(lake: Lake) -> list[str]:
    """The extensions a lake with this catalog loads."""
    return ["ducklake"] + ([NEEDS[lake.kind]] if lake.kind in NEEDS else [])


def _stamp(folder: Path, lake: Lake) -> tuple:
    files = [(folder / f"{n}.duckdb_extension").resolve() for n in _needed(lake)]
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file())


def connect(lake: Lake, *, read_only: bool = False, config: dict | None = None, snapshot_version: int | None = None,
            snapshot_time: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `lake` attached and in use (see attach).

    DuckDB checks an extension's signature at every LOAD (0.25 s for ducklake + postgres, most of a connection's
    cost). The first connection of a process checks it; later ones load the same files (same path, size and
    mtime, from the installed packages) without checking again. Only these files are in the extension
    directory, nothing installs others (autoinstall off), and the analysts' SQL session refuses LOAD.
    """
    folder = extension_folder()
    stamp = _stamp(folder, lake)
    settings = {"extension_directory": str(folder.parents[1]), "autoinstall_known_extensions": False,
                "allow_unsigned_extensions": bool(stamp) and stamp in _VERIFIED, **(config or {})}
    for attempt in range(1, 6):
        con = duckdb.connect(":memory:", config=settings)
        try:
            attach(con, lake, read_only=read_only, snapshot_version=snapshot_version, snapshot_time=snapshot_time)
            _VERIFIED.add(stamp)
            return con
        except LakeError as exc:
            con.close()
            # Two processes creating the same new lake race on its catalog schema ("duplicate key"): the
            # loser attaches again and finds the lake the winner made.
            if attempt == 5 or not any(w in str(exc).lower() for w in ("duplicate key", "conflict", "already exists")):
                raise
            time.sleep(0.2 * attempt)
        except BaseException:
            con.close()
            raise
    raise AssertionError("unreachable")


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con`'s default catalog is a DuckLake."""
    return con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
                       ).fetchone()[0] == "ducklake"


def retrying(work: Callable[[], T], attempts: int = 8) -> T:
    """`work()`, run again while its commit conflicts with another writer's (DuckLake's optimistic
    concurrency); any other error, or the last conflict, is raised. On the embedded backend nothing conflicts
    across processes (one writer holds the file), so this is one call."""
    for attempt in itertools.count(1):
        try:
            return work()
        except duckdb.TransactionException as exc:
            if not conflict(exc) or attempt >= attempts:
                raise
            time.sleep(min(0.1 * 2 ** attempt, 5.0))
    raise AssertionError("unreachable")


def conflict(exc: BaseException) -> bool:
    """A commit another writer's commit made impossible (DuckLake's optimistic concurrency): retry the work."""
    text = str(exc)
    return isinstance(exc, duckdb.TransactionException) and ("conflict" in text.lower()
                                                           or "Failed to commit DuckLake" in text)


_LAKE_DDL = [   # what DuckLake has no notion of; uniqueness is the writers' (MERGE / delete-then-insert by key)
    (r"--[^\n]*", ""),
    (r"CREATE\s+SEQUENCE[^;]*;", ""),
    (r"\s+DEFAULT\s+nextval\('[^']*'\)", ""),
    (r",\s*(PRIMARY\s+KEY|UNIQUE)\s*\([^)]*\)", ""),
    (r"\s+(PRIMARY\s+KEY|UNIQUE)\b", ""),
]


def lake_ddl(sql: str) -> str:
    """A migration's DDL as DuckLake takes it: without sequences, primary keys and unique constraints."""
    import re

    for pattern, repl in _LAKE_DDL:
        sql = re.sub(pattern, repl, sql, flags=re.IGNORECASE)
    return sql
