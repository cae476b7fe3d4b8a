"""The targets from the issue, each next to the figure this run measured (the first table of BENCHMARKS.md)."""
from __future__ import annotations


def fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:,.{digits}f}"
    return f"{value}{unit}"


def md_table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def problem(fig) -> str | None:
    if not isinstance(fig, dict) or not fig:
        return "not measured"
    if "error" in fig:
        return f"failed: {fig['error']}"
    if "skipped" in fig:
        return f"skipped: {fig['skipped']}"
    return None


def default_servers(f: dict) -> str:
    """What run.py's default (APP_WORKERS=auto) started in this run, from the count it resolved."""
    workers = f.get("throughput.sqlite_default", {}).get("app_workers")
    if workers is None:
        return "processes unknown"
    if workers == 1:
        return "one waitress process here, 8 threads, the scheduler a thread in it"
    return f"{workers} gunicorn gthread workers here × 8 threads, with their master and a scheduler process"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def targets_table(f: dict) -> list[str]:
    rows = []
    lat = f.get("latency.sqlite", {})
    p50 = lat.get("p50_ms")
    rows.append(["1", "complete-task p50, SQLite, one server process, sequential client",
                 problem(lat) or f"{fmt(p50, ' ms', 2)} (p95 {fmt(lat.get('p95_ms'), ' ms')}, p99 {fmt(lat.get('p99_ms'), ' ms')})",
                 "≤ 10 ms", _met(None if p50 is None else p50 <= 10), "—", "median 122–127 ms, p95 ~150–160 ms"])
    con = f.get("concurrency.sqlite", {})
    ok = None
    if "rounds" in con:
        ok = con["rounds_all_ok"] == con["rounds"] and (con["slowest_ms"] or 0) <= 150
    rows.append(["2", "6 departments complete the 6 branches of one case at once (SQLite)",
                 problem(con) or f"{con['successes']}/{con['attempts']} succeeded, {con['rounds_all_ok']}/{con['rounds']} "
                 f"rounds 6/6, joins right {con['rounds_join_ok']}/{con['rounds']}, slowest {fmt(con['slowest_ms'], ' ms')}",
                 "6/6 every round, slowest ≤ 150 ms", _met(ok), "—", "3 of 6 failed with HTTP 500"])
    base = f.get("engine.raw_serialized", {}).get("cases_per_s")
    for key, number, label in (("throughput.sqlite_default", "3", "run.py as started by default "
                                                                 f"(APP_WORKERS=auto: {default_servers(f)})"),
                               ("throughput.sqlite", "3b", "run.py with APP_WORKERS=1 (waitress, one process, "
                                                           "8 threads)"),
                               ("throughput.sqlite_threads1", "3c", "run.py with APP_WORKERS=1 and APP_THREADS=1 "
                                                                    "(one process, one request at a time)")):
        thr = f.get(key, {})
        ratio = thr.get("ratio_to_baseline_1b")
        rows.append([number, f"whole cases over HTTP, SQLite, {label}",
                     problem(thr) or f"{fmt(thr.get('cases_per_s'), ' cases/s', 2)} = {fmt(ratio and ratio * 100, ' %')} of 1(b)",
                     "≥ 50 % of baseline 1(b)", _met(None if ratio is None else ratio >= 0.5),
                     f"1(b) {fmt(base, ' cases/s')} (one core)", "—"])
    for key, number, label in (("inbox.sqlite", "4", "SQLite"), ("inbox.pg", "4b", "PostgreSQL")):
        inbox = f.get(key, {})
        levels = [lv for lv in inbox.get("levels", []) if "p95_ms" in lv]
        top = levels[-1] if levels else {}
        at_million = bool(top) and top.get("rows", 0) >= 1_000_000
        rows.append([number, f"inbox (GET /api/v1/tasks?state=ready) p95 at 1M tasks, {label}",
                     problem(inbox) or (f"{fmt(top.get('p95_ms'), ' ms')} at {top.get('rows', 0):,} rows" if top else "—"),
                     "≤ 20 ms", _met(top.get("p95_ms") <= 20 if at_million else None), "—", "—"])
    tim = f.get("timers.sqlite", {})
    p95 = tim.get("delay_p95_s")
    rows.append(["5", f"timer delay p95, {tim.get('timers', '?')} timers due in one minute",
                 problem(tim) or f"{fmt(p95, ' s', 2)} (p50 {fmt(tim.get('delay_p50_s'), ' s', 2)}, max "
                 f"{fmt(tim.get('delay_max_s'), ' s', 2)}; {tim.get('fired')}/{tim.get('timers')} fired)",
                 "≤ 2 s", _met(None if p95 is None or tim.get("fired") != tim.get("timers") else p95 <= 2),
                 "—", "delays of 20–30 s"])
    rows.append(["6", "one engine step (load + complete + save) at history 1000 vs 10, our wrapper",
                 *_growth_text(f.get("growth", {})), _growth_baseline(f.get("growth.raw", {})), "—"])
    return md_table(["#", "Figure", "Measured", "Target", "Met", "Baseline (same run)", "Peer (context)"], rows)


def _growth_points(fig: dict) -> tuple[dict, int | None, int | None]:
    pts = {p["history"]: p for p in fig.get("points", [])}
    first = min(pts) if pts else None
    last_ok = max((h for h, p in pts.items() if p.get("reached")), default=None)
    return pts, first, last_ok


def _growth_text(fig: dict) -> tuple[str, str, str]:
    """(measured, target, met) for the wrapper's growth."""
    pts, first, last_ok = _growth_points(fig)
    if problem(fig):
        return problem(fig), "≤ 2×", _met(None)
    if 1000 in pts and pts[1000].get("reached"):
        p = pts[1000]
        return f"{p['vs_first']}× ({p['step_ms']} ms vs {pts[first]['step_ms']} ms at {first}; state " \
               f"{fmt(p['state_bytes'], ' B')})", "≤ 2×", _met(p["vs_first"] <= 2)
    why = f"not reachable: {fig.get('failure')}" if fig.get("failure") else "not measured in this run"
    if not last_ok:
        return f"history 1000 {why}", "≤ 2×", _met(None)
    p = pts[last_ok]
    return (f"history 1000 {why}; at {last_ok}: {p.get('vs_first')}× ({p.get('step_ms')} ms vs "
            f"{pts[first].get('step_ms')} ms)"), "≤ 2×", _met(False if p.get("vs_first", 0) > 2 else None)


def _growth_baseline(fig: dict) -> str:
    """Raw SpiffWorkflow on the same loop, for context."""
    pts, first, last_ok = _growth_points(fig)
    if problem(fig) or not last_ok:
        return problem(fig) or "—"
    p = pts[last_ok]
    text = f"raw SpiffWorkflow: {p.get('vs_first')}× at {last_ok} ({p.get('step_ms')} ms)"
    if fig.get("failure"):
        text += f"; stopped: {fig['failure']}"
    return text
