"""A quick end-to-end check of the harness: every measurement with tiny counts.

Used by tests/test_bench_smoke.py; timing figures from it mean nothing.
"""
from __future__ import annotations

from pathlib import Path

from .common import SMOKE

REQUIRED_FIGURES = (
    "engine.raw_memory", "engine.raw_serialized", "engine.wrapper", "growth", "growth.raw", "profile",
    "latency.sqlite", "throughput.sqlite", "throughput.sqlite_default", "throughput.sqlite_threads1",
    "concurrency.sqlite", "timers.sqlite",
    "inbox.sqlite", "inbox.pg",
    "throughput.pg_waitress", "concurrency.pg_waitress", "throughput.pg_gunicorn", "concurrency.pg_gunicorn",
    "memory",
)


def run_smoke(workdir: Path, markdown: Path | None = None) -> dict:
    """Run the whole harness at smoke scale in ``workdir``; optionally render the report too."""
    from .run import run_all, write_outputs
    results = run_all(SMOKE, workdir=workdir / "work", parallel_pg=True)
    write_outputs(results, workdir / "results", markdown)
    return results


def problems(results: dict, allow_skipped: bool = True) -> list[str]:
    """Figures that are missing or failed (skipped ones pass when ``allow_skipped``)."""
    figures = results.get("figures", {})
    out = []
    for key in REQUIRED_FIGURES:
        fig = figures.get(key)
        if not isinstance(fig, dict) or not fig:
            out.append(f"{key}: missing")
        elif "error" in fig:
            out.append(f"{key}: {fig['error']}")
        elif "skipped" in fig and not allow_skipped:
            out.append(f"{key}: skipped ({fig['skipped']})")
    return out
