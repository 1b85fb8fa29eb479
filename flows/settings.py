"""The only reader of the environment and riskwatch.toml. Secrets come from the environment only."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse.db import DEFAULT_WAREHOUSE

DEFAULT_CONFIG = "riskwatch.toml"


@dataclass
class Settings:
    warehouse: Path = Path(DEFAULT_WAREHOUSE)
    config: dict[str, Any] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict, repr=False)
    config_path: str | None = None

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def outbox(self) -> Path:
        return Path(self.environ.get("RISKWATCH_OUTBOX") or Path(self.reports_dir) / "outbox")

    @property
    def reports_dir(self) -> Path:
        return Path(self.get("pipeline.reports_dir", "reports"))

    @property
    def inbox_dir(self) -> Path:
        return Path(self.get("pipeline.inbox_dir", "inbox"))

    @property
    def watched_countries(self) -> list[str]:
        return list(self.get("pipeline.watched_countries", ["PAK", "AFG", "IRN", "IND"]))

    @property
    def timezone(self) -> str:
        return self.environ.get("RISKWATCH_TIMEZONE") or self.get("pipeline.timezone", "Asia/Karachi")

    @property
    def max_reject_fraction(self) -> float:
        return float(self.get("ingest.max_reject_fraction", 0.25))

    @property
    def mapping_dirs(self) -> list[Path]:
        return [Path(p) for p in self.get("ingest.mapping_dirs", [])]

    @property
    def memory_limit(self) -> str | None:
        return self.get("ingest.memory_limit")

    @property
    def batch_limits(self) -> dict[str, Any]:
        """Batch-level ingest checks' thresholds ([validation] in riskwatch.toml)."""
        keys = ("max_row_drop", "null_min_rows", "null_min_filled")
        return {k: self.get(f"validation.{k}") for k in keys if self.get(f"validation.{k}") is not None}

    def source_defaults(self, source: str) -> dict[str, Any]:
        country = self.get(f"sources.{source}.default_country")
        return {"country": country} if country else {}

    def recipients(self, kind: str) -> list[str]:
        """Addresses from RISKWATCH_ALERT_TO / RISKWATCH_REPORT_TO (comma-separated)."""
        raw = self.environ.get(f"RISKWATCH_{kind.upper()}_TO", "")
        return [a.strip() for a in raw.split(",") if a.strip()]


def load_settings(
    warehouse: str | Path | None = None, config_path: str | Path | None = None, environ: dict | None = None
) -> Settings:
    env = dict(os.environ if environ is None else environ)
    path = Path(config_path or env.get("RISKWATCH_CONFIG") or DEFAULT_CONFIG)
    config = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    wh = warehouse or env.get("RISKWATCH_WAREHOUSE") or DEFAULT_WAREHOUSE
    return Settings(warehouse=Path(wh), config=config, environ=env,
                    config_path=str(config_path) if config_path else None)
