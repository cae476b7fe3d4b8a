"""Render the results of one run as BENCHMARKS.md."""
from __future__ import annotations

from pathlib import Path

from .common import ROOT

PEER = "the best-known Flask + SpiffWorkflow web app (figures quoted in the issue, not measured here)"


def _v(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:,.{digits}f}"
    return f"{value}{unit}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _bad(fig) -> str | None:
    if not isinstance(fig, dict):
        return "not measured"
    if "error" in fig:
        return f"failed: {fig['error']}"
    if "skipped" in fig:
        return f"skipped: {fig['skipped']}"
    return None


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def _targets(f: dict) -> list[str]:
    rows = []
    lat = f.get("latency.sqlite", {})
    p50 = lat.get("p50_ms")
    rows.append(["1", "complete-task p50, SQLite, one server process, sequential client",
                 _bad(lat) or f"{_v(p50, ' ms', 2)} (p95 {_v(lat.get('p95_ms'), ' ms')}, p99 {_v(lat.get('p99_ms'), ' ms')})",
                 "≤ 10 ms", _met(None if p50 is None else p50 <= 10), "—", "median 122–127 ms, p95 ~150–160 ms"])
    con = f.get("concurrency.sqlite", {})
    ok = None
    if "rounds" in con:
        ok = con["rounds_all_ok"] == con["rounds"] and (con["slowest_ms"] or 0) <= 150
    rows.append(["2", "6 departments complete the 6 branches of one case at once (SQLite)",
                 _bad(con) or f"{con['successes']}/{con['attempts']} succeeded, {con['rounds_all_ok']}/{con['rounds']} "
                 f"rounds 6/6, joins right {con['rounds_join_ok']}/{con['rounds']}, slowest {_v(con['slowest_ms'], ' ms')}",
                 "6/6 every round, slowest ≤ 150 ms", _met(ok), "—", "3 of 6 failed with HTTP 500"])
    thr = f.get("throughput.sqlite", {})
    base = f.get("engine.raw_serialized", {}).get("cases_per_s")
    ratio = thr.get("ratio_to_baseline_1b")
    rows.append(["3", "whole cases over HTTP, SQLite, run.py (waitress)",
                 _bad(thr) or f"{_v(thr.get('cases_per_s'), ' cases/s', 2)} = {_v(ratio and ratio * 100, ' %')} of 1(b)",
                 "≥ 50 % of baseline 1(b)", _met(None if ratio is None else ratio >= 0.5),
                 f"1(b) {_v(base, ' cases/s')}", "—"])
    inbox = f.get("inbox.sqlite", {})
    levels = [lv for lv in inbox.get("levels", []) if "p95_ms" in lv]
    top = levels[-1] if levels else {}
    at_million = bool(top) and top.get("rows", 0) >= 1_000_000
    rows.append(["4", "inbox (GET /api/v1/tasks?state=ready) p95 at 1M tasks, SQLite",
                 _bad(inbox) or (f"{_v(top.get('p95_ms'), ' ms')} at {top.get('rows', 0):,} rows" if top else "—"),
                 "≤ 20 ms", _met(top.get("p95_ms") <= 20 if at_million else None), "—", "—"])
    tim = f.get("timers.sqlite", {})
    p95 = tim.get("delay_p95_s")
    rows.append(["5", f"timer delay p95, {tim.get('timers', '?')} timers due in one minute",
                 _bad(tim) or f"{_v(p95, ' s', 2)} (p50 {_v(tim.get('delay_p50_s'), ' s', 2)}, max "
                 f"{_v(tim.get('delay_max_s'), ' s', 2)}; {tim.get('fired')}/{tim.get('timers')} fired)",
                 "≤ 2 s", _met(None if p95 is None or tim.get("fired") != tim.get("timers") else p95 <= 2),
                 "—", "delays of 20–30 s"])
    gro = f.get("growth", {})
    pts = {p["history"]: p for p in gro.get("points", [])}
    first = min(pts) if pts else None
    last_ok = max((h for h, p in pts.items() if p.get("reached")), default=None)
    if 1000 in pts and pts[1000].get("reached"):
        text, ok = f"{pts[1000]['vs_first']}× ({pts[1000]['step_ms']} ms vs {pts[first]['step_ms']} ms)", \
            pts[1000]["vs_first"] <= 2
    else:
        why = f"not reachable: {gro.get('failure')}" if gro.get("failure") else "not measured in this run"
        text = _bad(gro) or (f"history 1000 {why}; at {last_ok}: "
                             f"{pts[last_ok].get('vs_first')}× ({pts[last_ok].get('step_ms')} ms vs "
                             f"{pts[first].get('step_ms')} ms)" if last_ok else "—")
        ok = False if last_ok and pts[last_ok].get("vs_first", 0) > 2 else None
    rows.append(["6", f"one engine step at history 1000 vs {first}", text, "≤ 2×", _met(ok), "—", "—"])
    return _table(["#", "Figure", "Measured", "Target", "Met", "Baseline (same run)", "Peer (context)"], rows)


def _engine(f: dict) -> list[str]:
    a = f.get("engine.raw_memory", {}).get("cases_per_s")
    b = f.get("engine.raw_serialized", {}).get("cases_per_s")
    rows = []
    for key, label in (("engine.raw_memory", "1(a) raw SpiffWorkflow, in memory"),
                       ("engine.raw_serialized", "1(b) raw SpiffWorkflow, serialize_json/deserialize_json every step"),
                       ("engine.wrapper", "app.engine start/complete + JSON text every step")):
        fig = f.get(key, {})
        if _bad(fig):
            rows.append([label, _bad(fig), "", "", "", "", ""])
            continue
        cps = fig["cases_per_s"]
        rows.append([label, _v(cps), _v(fig["ms_per_case"], "", 2), fig["user_tasks_per_case"],
                     _v(fig.get("final_state_bytes"), " B"), _v(a and cps / a, "×", 2), _v(b and cps / b, "×", 2)])
    return _table(["Mode", "cases/s", "ms/case", "user tasks/case", "final state", "vs 1(a)", "vs 1(b)"], rows)


def _throughput(f: dict) -> list[str]:
    rows = []
    a = f.get("engine.raw_memory", {}).get("cases_per_s")
    for key, label in (("throughput.sqlite", "SQLite, run.py (waitress, 8 threads)"),
                       ("throughput.pg_waitress", "PostgreSQL, run.py (waitress, 8 threads)"),
                       ("throughput.pg_gunicorn", "PostgreSQL, gunicorn -w 4 (sync)")):
        fig = f.get(key, {})
        if _bad(fig):
            rows.append([label, _bad(fig)] + [""] * 8)
            continue
        under = fig["complete_task_under_load"]
        rows.append([label, fig["client_threads"], fig["cases"], _v(fig["cases_per_s"], "", 2),
                     _v(fig["requests_per_s"]), f"{_v(under.get('p50_ms'))} / {_v(under.get('p95_ms'))} ms",
                     _v(fig["server_cpu_ms_per_case"], " ms"), _v(fig["ratio_to_baseline_1b"], "", 3),
                     _v(a and fig["cases_per_s"] / a, "", 3), fig["failed_cases"]])
    return _table(["Server", "client threads", "cases", "cases/s", "requests/s", "complete p50 / p95 under load",
                   "server CPU per case", "ratio to 1(b)", "ratio to 1(a)", "failed cases"], rows)


def _concurrency(f: dict) -> list[str]:
    rows = []
    for key, label in (("concurrency.sqlite", "SQLite, run.py"), ("concurrency.pg_waitress", "PostgreSQL, run.py"),
                       ("concurrency.pg_gunicorn", "PostgreSQL, gunicorn -w 4")):
        fig = f.get(key, {})
        if _bad(fig):
            rows.append([label, _bad(fig)] + [""] * 5)
            continue
        rows.append([label, f"{fig['successes']}/{fig['attempts']}", f"{fig['rounds_all_ok']}/{fig['rounds']}",
                     f"{fig['rounds_join_ok']}/{fig['rounds']}", _v(fig["slowest_ms"], " ms"),
                     _v(fig["slowest_per_round_p50_ms"], " ms"), ", ".join(map(str, fig["non_200"])) or "none"])
    return _table(["Server", "completions ok", "rounds 6/6", "join fired once", "slowest response",
                   "median of per-round slowest", "non-200 statuses"], rows)


def _inbox(f: dict) -> list[str]:
    fig = f.get("inbox.sqlite", {})
    if _bad(fig):
        return [_bad(fig), ""]
    rows = []
    for lv in fig["levels"]:
        if "skipped" in lv:
            rows.append([f"{lv['target_rows']:,}", "skipped: " + lv["skipped"]] + [""] * 6)
            continue
        rows.append([f"{lv['rows']:,}" + (" (load stopped at the time limit)" if lv["load_limited"] else ""),
                     _v(lv["load_s"], " s"), lv["ready_in_approver_dept"], lv["rows_returned"], _v(lv["p50_ms"], " ms"),
                     _v(lv["p95_ms"], " ms"), _v(lv["p99_ms"], " ms"), _v(lv["max_ms"], " ms")])
    return _table(["tasks rows", "bulk load", f"ready for {fig['approver']}'s department", "returned", "p50", "p95",
                   "p99", "max"], rows)


def _growth(f: dict) -> list[str]:
    figs = [(label, f.get(key, {})) for key, label in (("growth", "our wrapper (app.engine)"),
                                                        ("growth.raw", "raw SpiffWorkflow + serialize_json"))]
    levels = sorted({p["history"] for _, fig in figs if not _bad(fig) for p in fig["points"]})
    rows = []
    for level in levels:
        row = [level]
        for _, fig in figs:
            p = next((p for p in fig.get("points", []) if p["history"] == level), {})
            row += ([_v(p["step_ms"], " ms", 2) + f" ({_v(p.get('vs_first'), '×', 2)})",
                     _v(p["state_bytes"], " B") + f" ({_v(p.get('state_vs_first'), '×', 2)})"]
                    if p.get("reached") else ["not reached", "—"])
        rows.append(row)
    header = ["completed tasks in history"]
    for label, _ in figs:
        header += [f"{label}: one step (vs first)", f"{label}: stored state (vs first)"]
    out = _table(header, rows)
    for label, fig in figs:
        if _bad(fig):
            out.append(f"- {label}: {_bad(fig)}")
            continue
        last = fig.get("last_step") or {}
        outcome = fig.get("failure") or f"every level reached; the case then ended at `{fig.get('end_event')}`"
        out.append(f"- {label}: highest history {fig['max_history_reached']}"
                   + (f" (the last step there took {last.get('step_ms')} ms, state {last.get('state_bytes'):,} B)"
                      if last else "") + f". Outcome: {outcome}.")
    return out + [""]


def _memory(f: dict) -> list[str]:
    rows = [[label, _v(m.get("rss_idle_after_start_mib"), " MiB"), _v(m["rss_before_mib"], " MiB"),
             _v(m["rss_peak_mib"], " MiB"), _v(m["rss_after_mib"], " MiB"), m["processes"]]
            for label, m in (f.get("memory") or {}).items()]
    return _table(["Server", "idle after start", "before throughput run", "peak during run", "after run",
                   "processes summed"], rows)


def _profile(f: dict) -> list[str]:
    fig = f.get("profile", {})
    if _bad(fig):
        return [_bad(fig), ""]
    out = [f"{fig['requests']} complete-task requests through Flask's test client (no waitress, no network), "
           f"{_v(fig['wall_ms_per_request'], ' ms', 2)} each with the profiler attached.", ""]
    out += _table(["Self time in", "share", "ms per request"],
                  [[c["category"], _v(c["percent"], " %"), _v(c["ms_per_request"], "", 2)]
                   for c in fig["self_time_by_category"]])
    out += _table(["Our function (inclusive)", "share", "ms per request"],
                  [[f"`{c['function']}`", _v(c["percent"], " %"), _v(c["ms_per_request"], "", 2)]
                   for c in fig["top_app_functions_inclusive"][:14]])
    return out


def _errors(data: dict) -> list[str]:
    lines = []
    for label, s in data.get("servers", {}).items():
        lines.append(f"- **{label}**: {s['responses_5xx_or_none']} responses ≥ 500 (or no response); "
                     f"{len(s['log_problems'])} error lines in the server log.")
        for sample in s["samples"][:3]:
            lines.append(f"  - `{sample['request']}` → {sample['status']}: {sample['body'][:160]}")
        for line in s["log_problems"][:3]:
            lines.append(f"  - log: `{line[:200]}`")
    failed = [k for k, v in data["figures"].items() if isinstance(v, dict) and "error" in v]
    if failed:
        lines.append(f"- Measurements that failed in this run: {', '.join(failed)} (see the JSON).")
    return lines + [""]


def render(data: dict, json_path: Path) -> str:
    meta, f = data["meta"], data["figures"]
    m, pk = meta["machine"], meta["machine"]["packages"]
    try:
        shown = json_path.relative_to(ROOT)
    except ValueError:
        shown = json_path
    proc = meta.get("process", {})
    lines = [
        "# Benchmarks", "",
        f"One run of `make bench` (`.venv/bin/python -m bench.run`, {meta['scale']} scale) on {meta['date']}, "
        f"{_v(meta.get('duration_s'), ' s')} in all. Raw numbers: `{shown}` (git-ignored). "
        "Every ratio compares figures taken in this same run on this same machine.", "",
        "## Machine", "",
        *_table(["", ""], [
            ["CPU", f"{m['cpu_model']}, {m['cores']} cores"], ["Memory", _v(m["memory_gib"], " GiB")],
            ["OS / Python", f"{m['os']} / Python {m['python']}"],
            ["SpiffWorkflow / Flask / SQLAlchemy", f"{pk.get('SpiffWorkflow')} / {pk.get('Flask')} / {pk.get('SQLAlchemy')}"],
            ["Werkzeug / waitress / gunicorn / psycopg", f"{pk.get('Werkzeug')} / {pk.get('waitress')} / "
                                                        f"{pk.get('gunicorn')} / {pk.get('psycopg')}"],
            ["PostgreSQL server", meta.get("postgresql", "—")],
            ["Code measured", f"commit {meta.get('git', {}).get('commit')}"
                              + (" plus uncommitted changes" if meta.get("git", {}).get("uncommitted_changes") else "")],
            ["Load average (1/5/15 min) at start / end", f"{meta.get('load_average_at_start')} / "
                                                         f"{meta.get('load_average_at_end')}"],
            ["Process measured", f"{proc.get('label')} — `{proc.get('source')}`"
                                 + (" (fallback: processes/business_startup.bpmn was not there)"
                                    if proc.get("fallback_six_way") else "")],
        ]),
        "## Figures against targets", "",
        *_targets(f),
        f"Peer figures are from {PEER}.", "",
        "## 1. Engine baseline (baseline 1)", "",
        *_engine(f),
        "## 2. Throughput over HTTP (whole cases)", "",
        *_throughput(f),
        "## 3. Complete-task latency (SQLite, one server process, sequential client)", "",
        *_table(["requests", "p50", "p95", "p99", "max", "mean"], [[
            f.get("latency.sqlite", {}).get("n"), *(_v(f.get("latency.sqlite", {}).get(k), " ms", 2)
                                                   for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"))]]),
        "## 4. Six simultaneous branch completions", "",
        *_concurrency(f),
        "## 5. Inbox latency as the tasks table grows (SQLite)", "",
        *_inbox(f),
        "## 6. Timer delay", "",
        *_table(["timers", "due within", "fired", "p50 delay", "p95 delay", "max delay", "set-up done before first due"],
                [[(t := f.get("timers.sqlite", {})).get("timers"), _v(t.get("window_s"), " s"), t.get("fired"),
                  _v(t.get("delay_p50_s"), " s", 3), _v(t.get("delay_p95_s"), " s", 3), _v(t.get("delay_max_s"), " s", 3),
                  t.get("setup_finished_before_window")]]),
        "## 7. Step cost as history grows (loop process: load + complete + save per step)", "",
        *_growth(f),
        "## 8. Server memory (VmRSS)", "",
        *_memory(f),
        "## Where a complete-task request spends its time (pyinstrument)", "",
        *_profile(f),
        "## Errors seen", "",
        *_errors(data),
        "## Method", "",
        "- The client runs on the same 2 cores as the server (and PostgreSQL), so HTTP figures include that "
        "contention; the engine baselines run single-threaded with nothing else running.",
        "- A whole case = start it as `window_clerk`, complete every ready task as its lane's demo user, and read "
        "the case after each round of completions (to find the next ready tasks).",
        "- Latency and throughput time complete-task calls client-side (keep-alive connections); warm-up "
        "requests are discarded.",
        "- Timers: each case's `timeDate` is the expression `fire_at`, a case field holding an ISO string, so one "
        "deployed process gives every case its own due time; the scheduler polls every second.",
        "- Inbox rows are synthetic, inserted with SQL: ~7 tasks per case over 20 departments, 95 % completed, "
        "3 % cancelled, 2 % ready. SQLite is not ANALYZEd (the app never does).",
        "",
    ]
    return "\n".join(lines)
