"""The suite on the DuckLake backend: RISKWATCH_TEST_BACKEND=ducklake runs every test against lakes.

One PostgreSQL database per session (created here, dropped at the end) is every lake's catalog; each
warehouse path a test uses is its own lake in it (riskwatch.settings.Settings.lake derives the catalog
schema and the data directory from the path), so tests stay as independent as with files.
"""

from __future__ import annotations

import asyncio
import os
import uuid

PG = {"host": os.environ.get("RISKWATCH_TEST_PGHOST", "127.0.0.1"), "port": 5432, "user": "postgres"}


def enabled() -> bool:
    return os.environ.get("RISKWATCH_TEST_BACKEND", "duckdb").strip().lower() == "ducklake"


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(database="postgres", **PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database() -> str:
    name = f"riskwatch_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def catalog(name: str) -> str:
    return f"postgres:dbname={name} host={PG['host']} port={PG['port']} user={PG['user']}"
