"""Shared by the benchmark scripts: machine description, peak memory, results sections in README.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from importlib.metadata import version
from pathlib import Path

README = Path(__file__).with_name("README.md")


def peak_rss_mib() -> float:
    """This process's own high-water RSS (Linux VmHWM; ru_maxrss would carry a parent's peak over exec)."""
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def machine(memory_limit: str | None = None) -> str:
    ram = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (f"{dt.date.today()}, {os.cpu_count()} CPUs ({cpu.group(1).strip() if cpu else platform.machine()}), "
            f"{ram / 2**20:.1f} GiB RAM, Python {platform.python_version()}, DuckDB {version('duckdb')}, "
            f"Prefect {version('prefect')}" + (f", memory_limit {memory_limit}" if memory_limit else "")
            + f", load average at start {os.getloadavg()[0]:.1f}")


def write_section(title: str, section: str) -> None:
    """Replace (or append) the `## title` section of bench/README.md."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    body = f"## {title}\n\n{section.strip()}\n\n"
    text = pattern.sub(lambda _: body, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + body
    README.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def publish(title: str, section: str, *, to_readme: bool = True) -> None:
    """Print a results section and, unless told not to, put it in bench/README.md."""
    print(section)
    if to_readme:
        write_section(title, section)
