"""Shared helpers: statistics, the machine description, scale settings, logging."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
_SNAPSHOT_ITEMS = ("app", "migrations", "processes", "forms", "run.py", "config.py")
_code_root = ROOT

ADMIN_PASSWORD = "Bench-admin-2026"
DEMO_PASSWORD = os.environ.get("APP_DEMO_PASSWORD", "Demo@2026")

PACKAGES = ("SpiffWorkflow", "Flask", "SQLAlchemy", "Werkzeug", "waitress", "gunicorn",
            "psycopg", "APScheduler", "requests", "pyinstrument")


@dataclass
class Scale:
    """How much work each measurement does. ``full`` is the real run, ``smoke`` a quick check."""

    name: str
    engine_seconds: float          # per engine mode
    http_seconds: float            # per throughput configuration
    client_threads: int
    latency_samples: int           # complete-task calls, sequential
    concurrency_rounds: int
    inbox_levels: tuple[int, ...]  # total rows in the tasks table
    inbox_requests: int
    inbox_load_limit_s: float      # stop loading a level after this long
    timer_count: int
    timer_window_s: float          # due times spread over this window
    timer_min_lead_s: float        # earliest due time after the set-up starts
    growth_levels: tuple[int, ...]
    growth_repeats: int
    profile_cases: int
    gunicorn_workers: int = 4
    extra: dict = field(default_factory=dict)


FULL = Scale(name="full", engine_seconds=6.0, http_seconds=40.0, client_threads=4,
             latency_samples=400, concurrency_rounds=20, inbox_levels=(10_000, 100_000, 1_000_000),
             inbox_requests=200, inbox_load_limit_s=180.0, timer_count=1000, timer_window_s=60.0,
             timer_min_lead_s=60.0, growth_levels=(10, 100, 300, 1000), growth_repeats=5,
             profile_cases=40)

SMOKE = Scale(name="smoke", engine_seconds=0.2, http_seconds=1.0, client_threads=2,
              latency_samples=12, concurrency_rounds=2, inbox_levels=(300, 600, 1_000),
              inbox_requests=10, inbox_load_limit_s=20.0, timer_count=6, timer_window_s=1.0,
              timer_min_lead_s=1.0, growth_levels=(3, 6, 10), growth_repeats=1,
              profile_cases=2, gunicorn_workers=2)


def code_root() -> Path:
    """Where the code under test lives: the repository, or the snapshot taken for this run."""
    return _code_root


def use_snapshot(dest: Path) -> Path | None:
    """Copy the app as it is now and measure that copy for the whole run.

    Servers start minutes apart; a work tree edited meanwhile would otherwise
    give one run several versions of the app. Only possible before this
    process has imported ``app``; returns None when it is too late.
    """
    global _code_root
    if "app" in sys.modules or "config" in sys.modules:
        return None
    import shutil
    dest.mkdir(parents=True, exist_ok=True)
    for name in _SNAPSHOT_ITEMS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, dest / name)
    sys.path.insert(0, str(dest))
    _code_root = dest
    return dest


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank-with-interpolation percentile (pct in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float]) -> dict:
    """p50/p95/p99/max/mean in milliseconds, rounded."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000.0 for s in seconds]
    return {"n": len(ms), "p50_ms": _r(percentile(ms, 50)), "p95_ms": _r(percentile(ms, 95)),
            "p99_ms": _r(percentile(ms, 99)), "max_ms": _r(max(ms)), "mean_ms": _r(statistics.fmean(ms))}


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def rnd(value: float | None, digits: int = 2) -> float | None:
    return _r(value, digits)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
    }


def git_revision() -> dict:
    """The commit measured, and whether the work tree had uncommitted changes."""
    import subprocess
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.rstrip("\n")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "uncommitted_changes": None}
    changed = [line[3:] for line in dirty.splitlines()][:50]
    return {"commit": head or None, "uncommitted_changes": bool(dirty), "changed_files": changed}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
