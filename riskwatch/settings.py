"""Typed settings: the only reader of the environment and of the config file.

One set of defaults: riskwatch/defaults.toml (package data, every key explained). A config file
(`--config`, else RISKWATCH_CONFIG, else ./riskwatch.toml when present) overrides it key by key.
Secrets and endpoints come from the environment only. This module imports nothing of riskwatch's
own, so every layer may take a Settings without importing upward.
"""

from __future__ import annotations

import copy
import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
DEFAULT_CONFIG = "riskwatch.toml"
DEFAULT_WAREHOUSE = "warehouse/riskwatch.duckdb"
DEFAULT_SENDER = "riskwatch@localhost"


class SettingsError(ValueError):
    """A config file that was asked for but cannot be used."""


@dataclass(frozen=True)
class Lake:
    """Where a DuckLake warehouse lives: its catalog database, its data files, its schema in the catalog.

    catalog: 'postgres:dbname=riskwatch host=...' (a team), 'sqlite:/path/lake.sqlite' (several processes on
    one host) or 'duckdb:/path/lake.ducklake' (one process). data_path: a directory (or an object-store URL
    where DuckDB's httpfs extension is installed). metadata_schema: the catalog schema holding this lake's
    tables, so one PostgreSQL database can hold several lakes (PostgreSQL catalogs only).
    """

    catalog: str
    data_path: str
    metadata_schema: str = ""

    @property
    def kind(self) -> str:
        return self.catalog.split(":", 1)[0] if ":" in self.catalog else "duckdb"


@cache
def defaults() -> dict[str, Any]:
    return tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, table by table (a key missing from `override` keeps its default)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@dataclass
class Settings:
    warehouse: Path = Path(DEFAULT_WAREHOUSE)
    config: dict[str, Any] = field(default_factory=dict)    # overrides of defaults.toml
    environ: dict[str, str] = field(default_factory=dict, repr=False)
    config_path: str | None = None

    def get(self, dotted: str, default: Any = None) -> Any:
        """A config value by dotted key ('ingest.max_reject_fraction'): the config file's, else defaults.toml's."""
        for source in (self.config, defaults()):
            node: Any = source
            for part in dotted.split("."):
                if not isinstance(node, dict) or part not in node:
                    break
                node = node[part]
            else:
                return merged(defaults_at(dotted), node) if isinstance(node, dict) else node
        return default

    @property
    def outbox(self) -> Path:
        return Path(self.environ.get("RISKWATCH_OUTBOX") or Path(self.reports_dir) / "outbox")

    @property
    def reports_dir(self) -> Path:
        return Path(self.get("pipeline.reports_dir"))

    @property
    def inbox_dir(self) -> Path:
        return Path(self.get("pipeline.inbox_dir"))

    @property
    def watched_countries(self) -> list[str]:
        return list(self.get("pipeline.watched_countries"))

    @property
    def timezone(self) -> str:
        return self.environ.get("RISKWATCH_TIMEZONE") or self.get("pipeline.timezone")

    @property
    def max_reject_fraction(self) -> float:
        return float(self.get("ingest.max_reject_fraction"))

    @property
    def mapping_dirs(self) -> list[Path]:
        return [Path(p) for p in self.get("ingest.mapping_dirs")]

    @property
    def memory_limit(self) -> str | None:
        return self.get("ingest.memory_limit")

    @property
    def backend(self) -> str:
        """'duckdb' (one embedded file, the default) or 'ducklake' (team mode)."""
        value = (self.environ.get("RISKWATCH_BACKEND") or self.get("warehouse.backend") or "duckdb").strip().lower()
        if value not in ("duckdb", "ducklake"):
            raise SettingsError(f"[warehouse] backend = {value!r}: use 'duckdb' or 'ducklake'")
        return value

    @property
    def lake(self) -> Lake | None:
        """The DuckLake this warehouse is (None on the embedded backend).

        Unset data_path / metadata_schema derive from the warehouse path (`<warehouse>.lake/`, 'rw_' + a hash of
        its absolute path), so two warehouse paths are two lakes; a team sets both explicitly.
        """
        if self.backend != "ducklake":
            return None
        catalog = (self.environ.get("RISKWATCH_CATALOG") or self.get("warehouse.catalog") or "").strip()
        if not catalog:
            raise SettingsError("[warehouse] backend = 'ducklake' needs [warehouse] catalog (or RISKWATCH_CATALOG), "
                                "e.g. 'postgres:dbname=riskwatch host=127.0.0.1 user=riskwatch'")
        data_path = (self.environ.get("RISKWATCH_DATA_PATH") or self.get("warehouse.data_path") or "").strip()
        schema = (self.environ.get("RISKWATCH_METADATA_SCHEMA") or self.get("warehouse.metadata_schema") or "").strip()
        where = Path(self.warehouse).resolve()
        return Lake(catalog=catalog, data_path=data_path or f"{where}.lake/",
                    metadata_schema=schema or "rw_" + hashlib.sha256(str(where).encode()).hexdigest()[:16])

    @property
    def busy_timeout(self) -> float:
        """Seconds a writer waits for another holder of the warehouse before failing."""
        return float(self.get("warehouse.busy_timeout_seconds"))

    @property
    def batch_limits(self) -> dict[str, Any]:
        """Batch-level ingest checks' thresholds ([validation])."""
        return {k: self.get(f"validation.{k}") for k in ("max_row_drop", "null_min_rows", "null_min_filled",
                                                          "min_share_ratio")}

    @property
    def mail_from(self) -> str:
        """The sender of every email riskwatch writes."""
        return sender(self.environ)

    def source_defaults(self, source: str) -> dict[str, Any]:
        country = self.get(f"sources.{source}.default_country")
        return {"country": country} if country else {}

    def report_link(self, filename: str) -> str:
        """Where an analyst opens a report file: [report] base_url + name, else its path on this machine."""
        base = str(self.get("report.base_url") or "").strip().rstrip("/")
        return f"{base}/{filename}" if base else str((self.reports_dir / filename).resolve())

    def recipients(self, kind: str) -> list[str]:
        """Addresses from RISKWATCH_ALERT_TO / RISKWATCH_REPORT_TO (comma-separated)."""
        raw = self.environ.get(f"RISKWATCH_{kind.upper()}_TO", "")
        return [a.strip() for a in raw.split(",") if a.strip()]


def sender(environ: dict[str, str]) -> str:
    """RISKWATCH_MAIL_FROM, else riskwatch@localhost."""
    return environ.get("RISKWATCH_MAIL_FROM", "").strip() or DEFAULT_SENDER


def defaults_at(dotted: str) -> dict[str, Any]:
    node: Any = defaults()
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def load_settings(
    warehouse: str | Path | None = None, config_path: str | Path | None = None, environ: dict | None = None
) -> Settings:
    """Settings from the environment and the config file.

    A config file named explicitly (argument or RISKWATCH_CONFIG) must exist and parse; the implicit
    ./riskwatch.toml is optional.
    """
    env = dict(os.environ if environ is None else environ)
    named = config_path or env.get("RISKWATCH_CONFIG")
    path = Path(named or DEFAULT_CONFIG)
    if named and not path.is_file():
        raise SettingsError(f"config file {path} not found")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from exc
    except OSError as exc:
        raise SettingsError(f"config file {path}: {exc.strerror or exc}") from exc
    wh = warehouse or env.get("RISKWATCH_WAREHOUSE") or DEFAULT_WAREHOUSE
    return Settings(warehouse=Path(wh), config=config, environ=env, config_path=str(path) if path.is_file() else None)
