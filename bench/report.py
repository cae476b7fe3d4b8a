"""Render the results of one run as BENCHMARKS.md."""
from __future__ import annotations

from pathlib import Path

from .common import ROOT
from .targets import default_servers, fmt, md_table, problem, targets_table

PEER = "the best-known Flask + SpiffWorkflow web app (figures quoted in the issue, not measured here)"


def _engine(f: dict) -> list[str]:
    a = f.get("engine.raw_memory", {}).get("cases_per_s")
    b = f.get("engine.raw_serialized", {}).get("cases_per_s")
    rows = []
    for key, label in (("engine.raw_memory", "1(a) raw SpiffWorkflow, in memory"),
                       ("engine.raw_serialized", "1(b) raw SpiffWorkflow, serialize_json/deserialize_json every step"),
                       ("engine.wrapper", "app.engine start/complete + JSON text every step")):
        fig = f.get(key, {})
        if problem(fig):
            rows.append([label, problem(fig), "", "", "", "", ""])
            continue
        cps = fig["cases_per_s"]
        rows.append([label, fmt(cps), fmt(fig["ms_per_case"], "", 2), fig["user_tasks_per_case"],
                     fmt(fig.get("final_state_bytes"), " B"), fmt(a and cps / a, "×", 2), fmt(b and cps / b, "×", 2)])
    return md_table(["Mode", "cases/s", "ms/case", "user tasks/case", "final state", "vs 1(a)", "vs 1(b)"], rows)


def _throughput(f: dict) -> list[str]:
    rows = []
    a = f.get("engine.raw_memory", {}).get("cases_per_s")
    for key, label in (("throughput.sqlite_default", "SQLite, run.py as started by default (APP_WORKERS=auto: "
                                                     + default_servers(f) + ")"),
                       ("throughput.sqlite", "SQLite, run.py with APP_WORKERS=1 (waitress, 8 threads)"),
                       ("throughput.sqlite_threads1", "SQLite, run.py with APP_WORKERS=1, APP_THREADS=1 "
                                                      "(waitress, 1 thread)"),
                       ("throughput.pg_waitress", "PostgreSQL, run.py with APP_WORKERS=1 (waitress, 8 threads)"),
                       ("throughput.pg_gunicorn", "PostgreSQL, gunicorn -w 4 (sync)")):
        fig = f.get(key, {})
        if problem(fig):
            rows.append([label, problem(fig)] + [""] * 8)
            continue
        under = fig["complete_task_under_load"]
        rows.append([label, fig["client_threads"], fig["cases"], fmt(fig["cases_per_s"], "", 2),
                     fmt(fig["requests_per_s"]), f"{fmt(under.get('p50_ms'))} / {fmt(under.get('p95_ms'))} ms",
                     f"{fmt(fig['server_cpu_ms_per_case'], ' ms')} / {fmt(fig.get('client_cpu_ms_per_case'), ' ms')}",
                     fmt(fig["ratio_to_baseline_1b"], "", 3),
                     fmt(a and fig["cases_per_s"] / a, "", 3), fig["failed_cases"]])
    out = md_table(["Server", "client threads", "cases", "cases/s", "requests/s", "complete p50 / p95 under load",
                    "CPU per case: server / client", "ratio to 1(b)", "ratio to 1(a)", "failed cases"], rows)
    sqlite = f.get("throughput.sqlite", {})
    per_case = sqlite["requests"] / sqlite["cases"] if sqlite.get("cases") else None
    sequential = f.get("latency.sqlite", {}).get("sequential_cases_per_s")
    return out + [f"A whole case is one start, every user task completed by its department, and a read of the case "
                  f"after each round of completions: {fmt(per_case, ' requests', 1)} per case on SQLite. One "
                  f"sequential client (the latency run below) got {fmt(sequential, ' cases/s', 2)}. The "
                  "default row and the APP_THREADS=1 row are each their own server on a fresh SQLite database, "
                  "started after the APP_WORKERS=1 one (which also serves the latency, concurrency, timer and inbox "
                  "runs) has stopped; the default's worker processes share SQLite's single writer (writers queue on "
                  "a file lock beside the database, handed over by the kernel at each commit).", ""]


def _concurrency(f: dict) -> list[str]:
    rows = []
    for key, label in (("concurrency.sqlite", "SQLite, run.py, one process"),
                       ("concurrency.pg_waitress", "PostgreSQL, run.py, one process"),
                       ("concurrency.pg_gunicorn", "PostgreSQL, gunicorn -w 4")):
        fig = f.get(key, {})
        if problem(fig):
            rows.append([label, problem(fig)] + [""] * 5)
            continue
        rows.append([label, f"{fig['successes']}/{fig['attempts']}", f"{fig['rounds_all_ok']}/{fig['rounds']}",
                     f"{fig['rounds_join_ok']}/{fig['rounds']}", fmt(fig["slowest_ms"], " ms"),
                     fmt(fig["slowest_per_round_p50_ms"], " ms"), ", ".join(map(str, fig["non_200"])) or "none"])
    return md_table(["Server", "completions ok", "rounds 6/6", "join fired once", "slowest response",
                   "median of per-round slowest", "non-200 statuses"], rows)


def _inbox(f: dict, key: str) -> list[str]:
    fig = f.get(key, {})
    if problem(fig):
        return [problem(fig), ""]
    rows, plans = [], []
    for lv in fig["levels"]:
        if "skipped" in lv or "error" in lv:
            rows.append([f"{lv['target_rows']:,}", lv.get("error") or "skipped: " + lv["skipped"]] + [""] * 7)
            continue
        sql = lv.get("query", {}).get("sql_only", {})
        rows.append([f"{lv['rows']:,}" + (" (load stopped at the time limit)" if lv["load_limited"] else ""),
                     fmt(lv["load_s"], " s"), lv["ready_in_approver_dept"], lv["rows_returned"], fmt(lv["p50_ms"], " ms"),
                     fmt(lv["p95_ms"], " ms"), fmt(lv["p99_ms"], " ms"), fmt(lv["max_ms"], " ms"),
                     fmt(sql.get("p50_ms"), " ms", 2)])
        if lv.get("query", {}).get("plan"):
            plans = lv["query"]["plan"]
    out = md_table(["tasks rows", "bulk load", f"ready for {fig['approver']}'s department", "returned", "p50", "p95",
                  "p99", "max", "the SQL alone, p50"], rows)
    if plans:
        out += ["Query plan at the largest size:", "", "```", *plans[:14], "```", ""]
    return out


def _growth(f: dict) -> list[str]:
    figs = [(label, f.get(key, {})) for key, label in (("growth", "our wrapper (app.engine)"),
                                                        ("growth.raw", "raw SpiffWorkflow + serialize_json"))]
    levels = sorted({p["history"] for _, fig in figs if not problem(fig) for p in fig["points"]})
    rows = []
    for level in levels:
        row = [level]
        for _, fig in figs:
            p = next((p for p in fig.get("points", []) if p["history"] == level), {})
            row += ([fmt(p["step_ms"], " ms", 2) + f" ({fmt(p.get('vs_first'), '×', 2)})",
                     fmt(p["state_bytes"], " B") + f" ({fmt(p.get('state_vs_first'), '×', 2)})"]
                    if p.get("reached") else ["not reached", "—"])
        rows.append(row)
    header = ["completed tasks in history"]
    for label, _ in figs:
        header += [f"{label}: one step (vs first)", f"{label}: stored state (vs first)"]
    out = md_table(header, rows)
    for label, fig in figs:
        if problem(fig):
            out.append(f"- {label}: {problem(fig)}")
            continue
        last = fig.get("last_step") or {}
        outcome = fig.get("failure") or f"every level reached; the case then ended at `{fig.get('end_event')}`"
        out.append(f"- {label}: highest history {fig['max_history_reached']}"
                   + (f" (the last step there took {last.get('step_ms')} ms, state {last.get('state_bytes'):,} B)"
                      if last else "") + f". Outcome: {outcome}.")
    return out + [""]


def _memory(f: dict) -> list[str]:
    rows = [[label, fmt(m.get("rss_idle_after_start_mib"), " MiB"), fmt(m["rss_before_mib"], " MiB"),
             fmt(m["rss_peak_mib"], " MiB"), fmt(m["rss_after_mib"], " MiB"), m["processes"]]
            for label, m in (f.get("memory") or {}).items()]
    return md_table(["Server", "idle after start", "before throughput run", "peak during run", "after run",
                   "processes summed"], rows)


def _profile_tables(fig: dict, functions: int = 14, owners: int = 12) -> list[str]:
    cats = fig["self_time_by_category"]
    shown = cats[:owners] + ([{"category": f"{len(cats) - owners} others",
                               "percent": sum(c["percent"] for c in cats[owners:]),
                               "ms_per_request": sum(c["ms_per_request"] for c in cats[owners:])}]
                             if len(cats) > owners else [])
    out = md_table(["Self time in (owner of the frame)", "share", "ms per request"],
                   [[c["category"], fmt(c["percent"], " %"), fmt(c["ms_per_request"], "", 2)] for c in shown])
    return out + md_table(["Our function (inclusive)", "share", "ms per request"],
                          [[f"`{c['function']}`", fmt(c["percent"], " %"), fmt(c["ms_per_request"], "", 2)]
                           for c in fig["top_app_functions_inclusive"][:functions]])


def _profile(f: dict) -> list[str]:
    fig = f.get("profile", {})
    if problem(fig):
        return [problem(fig), ""]
    out = [f"{fig['requests']} complete-task requests through Flask's test client (no waitress, no network), "
           f"{fmt(fig['wall_ms_per_request'], ' ms', 2)} each with the profiler attached.", ""]
    out += _profile_tables(fig)
    costs = fig.get("request_costs_in_process") or {}
    if costs:
        out += ["Each request a case makes, in process without the profiler (median time, SQL statements sent):", ""]
        out += md_table(["request", "n", "median", "SQL statements"],
                        [[k, v["n"], fmt(v["median_ms"], " ms", 2), fmt(v["sql_statements"])] for k, v in costs.items()])
    if fig.get("sql_of_one_complete_task"):
        out += ["The SQL statements of the last complete-task request (shortened):", "", "```",
                *fig["sql_of_one_complete_task"], "```", ""]
    inbox = fig.get("inbox") or {}
    out += ["### The inbox request", ""]
    if problem(inbox) or "requests" not in inbox:
        return out + [problem(inbox) or "not profiled", ""]
    out += [f"{inbox['requests']} `GET /api/v1/tasks?state=ready` as tax_approver with {inbox['tasks_rows']:,} rows "
            f"in the tasks table ({inbox['rows_returned']} returned), {fmt(inbox['wall_ms_per_request'], ' ms', 2)} "
            "each with the profiler attached.", ""]
    return out + _profile_tables(inbox, functions=8, owners=8)


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


HISTORY = Path(__file__).with_name("history.md")


def _history() -> list[str]:
    """Before and after each optimisation, from earlier full runs (kept by hand in bench/history.md)."""
    if not HISTORY.exists():
        return []
    return ["## Before and after (earlier full runs)", "", HISTORY.read_text(encoding="utf-8").strip(), ""]


def render(data: dict, json_path: Path) -> str:
    meta, f = data["meta"], data["figures"]
    m, pk = meta["machine"], meta["machine"]["packages"]
    try:
        shown = json_path.relative_to(ROOT)
    except ValueError:
        shown = json_path
    proc = meta.get("process", {})
    busy = (meta.get("load_average_at_start") or [0])[0] > (m.get("cores") or 1) * 0.5
    lines = [
        "# Benchmarks", "",
        f"One run of `make bench` (`.venv/bin/python -m bench.run`, {meta['scale']} scale) on {meta['date']}, "
        f"{fmt(meta.get('duration_s'), ' s')} in all. Raw numbers: `{shown}` (git-ignored). "
        "Every ratio compares figures taken in this same run on this same machine.", "",
        *([f"**Caution:** the load average was {meta['load_average_at_start'][0]} on {m['cores']} cores when the "
           "run started — other processes were competing for the CPU, so absolute figures are pessimistic.", ""]
          if busy else []),
        "## Machine", "",
        *md_table(["", ""], [
            ["CPU", f"{m['cpu_model']}, {m['cores']} cores"], ["Memory", fmt(m["memory_gib"], " GiB")],
            ["OS / Python", f"{m['os']} / Python {m['python']}"],
            ["SpiffWorkflow / Flask / SQLAlchemy", f"{pk.get('SpiffWorkflow')} / {pk.get('Flask')} / {pk.get('SQLAlchemy')}"],
            ["Werkzeug / waitress / gunicorn / psycopg", f"{pk.get('Werkzeug')} / {pk.get('waitress')} / "
                                                        f"{pk.get('gunicorn')} / {pk.get('psycopg')}"],
            ["PostgreSQL server", meta.get("postgresql", "—")],
            ["Code measured", f"commit {meta.get('git', {}).get('commit')}"
                              + (" plus uncommitted changes" if meta.get("git", {}).get("uncommitted_changes") else "")
                              + ("; copied at the start, so the whole run measured one version"
                                 if meta.get("code_snapshot") else "")],
            ["Load average (1/5/15 min) at start / end", f"{meta.get('load_average_at_start')} / "
                                                         f"{meta.get('load_average_at_end')}"],
            ["Process measured", f"{proc.get('label')} — `{proc.get('source')}`"
                                 + (" (fallback: processes/business_startup.bpmn was not there)"
                                    if proc.get("fallback_six_way") else "")],
        ]),
        "## Figures against targets", "",
        *targets_table(f),
        f"Peer figures are from {PEER}.", "",
        "## 1. Engine baseline (baseline 1)", "",
        *_engine(f),
        "## 2. Throughput over HTTP (whole cases)", "",
        *_throughput(f),
        "## 3. Complete-task latency (SQLite, one server process, sequential client)", "",
        *md_table(["requests", "p50", "p95", "p99", "max", "mean"], [[
            f.get("latency.sqlite", {}).get("n"), *(fmt(f.get("latency.sqlite", {}).get(k), " ms", 2)
                                                   for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"))]]),
        "## 4. Six simultaneous branch completions", "",
        *_concurrency(f),
        "## 5. Inbox latency as the tasks table grows", "",
        "SQLite (run.py):", "",
        *_inbox(f, "inbox.sqlite"),
        "PostgreSQL (run.py):", "",
        *_inbox(f, "inbox.pg"),
        "## 6. Timer delay", "",
        *md_table(["timers", "due within", "fired", "p50 delay", "p95 delay", "max delay", "set-up done before first due"],
                [[(t := f.get("timers.sqlite", {})).get("timers"), fmt(t.get("window_s"), " s"), t.get("fired"),
                  fmt(t.get("delay_p50_s"), " s", 3), fmt(t.get("delay_p95_s"), " s", 3), fmt(t.get("delay_max_s"), " s", 3),
                  t.get("setup_finished_before_window")]]),
        "## 7. Step cost as history grows (loop process: load + complete + save per step)", "",
        *_growth(f),
        "## 8. Server memory (VmRSS)", "",
        *_memory(f),
        "## Where a complete-task request spends its time (pyinstrument)", "",
        *_profile(f),
        *_history(),
        "## Errors seen", "",
        *_errors(data),
        "## Method", "",
        "- The client runs on the same cores as the server (and PostgreSQL), so HTTP figures include that "
        "contention; the engine baselines run single-threaded in the harness process while none of its servers run.",
        "- The load average lines above say how busy the machine was with other work during the run.",
        "- A whole case = start it as `window_clerk`, read its material checklist and upload each required "
        "material, complete every ready task as its lane's demo user, and read the case after each round of "
        "completions (to find the next ready tasks).",
        "- Latency and throughput time complete-task calls client-side, with Python's `http.client` and one "
        "keep-alive connection per client thread (since 518042c; `requests` cost 2–3 ms of client CPU per call on "
        "this machine, see bench/history.md); warm-up requests are discarded.",
        "- Timers: each case's `timeDate` is the expression `fire_at`, a case field holding an ISO string, so one "
        "deployed process gives every case its own due time; the scheduler polls every second.",
        "- Inbox rows are synthetic, inserted with SQL: ~7 tasks per case over 20 departments, 95 % completed, "
        "3 % cancelled, 2 % ready; open tasks are from the last 3 days and due 5–20 days later. The server (with "
        "its scheduler jobs) keeps running while rows are loaded. SQLite is not ANALYZEd (the app never does); PostgreSQL tables are ANALYZEd after each bulk load, as autovacuum would do in production.",
        "- The profile runs the app in the harness process on a copy of the freshly seeded SQLite database; "
        "its inbox part first loads the middle inbox level of synthetic rows into that copy.",
        "",
    ]
    return "\n".join(lines)
