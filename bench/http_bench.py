"""Measurements 2, 3 and 8 over HTTP against the real server.

* latency: complete-task round trips, one sequential client (only the
  ``POST /api/v1/tasks/<id>/complete`` calls are timed);
* throughput: whole cases (start + every task by the right department +
  reading the case between rounds) from a few client threads for a fixed time;
* memory: the server's VmRSS before, during (peak) and after the throughput run.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .client import CaseRunner
from .common import Scale, latency_summary, log, rnd
from .server import AppServer


def latency(runner: CaseRunner, scale: Scale) -> dict:
    warm = 2 if scale.name == "smoke" else 16
    samples: list[float] = []
    cases = 0
    started = time.perf_counter()
    while len(samples) < scale.latency_samples + warm:
        runner.run_case(on_complete=samples.append)
        cases += 1
    elapsed = time.perf_counter() - started
    out = {**latency_summary(samples[warm:]), "warm_up_discarded": warm, "cases": cases,
           "sequential_cases_per_s": rnd(cases / elapsed, 2), "client": "1 thread, sequential, http.client keep-alive"}
    log(f"latency: complete-task p50 {out['p50_ms']} ms, p95 {out['p95_ms']} ms, p99 {out['p99_ms']} ms")
    return out


class _RssSampler(threading.Thread):
    def __init__(self, server: AppServer, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, self.server.rss()["total_mib"])
            self.stopped.wait(self.every)


def throughput(runner: CaseRunner, server: AppServer, scale: Scale, baseline_cases_per_s: float | None,
               threads: int | None = None) -> dict:
    threads = threads or scale.client_threads
    # warm-up: one case per client thread at once (each thread has its own connection), so that every
    # worker process and thread has parsed the process and opened connections before the clock starts
    with ThreadPoolExecutor(max(2, threads)) as pool:
        list(pool.map(lambda _: runner.run_case(), range(max(2, threads))))
    for lane in runner.proc.lanes:  # every department user logged in before the clock starts
        runner.token_for(lane)
    rss_before = server.rss()
    cpu_before, client_before = server.cpu(), os.times()
    sampler = _RssSampler(server)
    sampler.start()
    lock = threading.Lock()
    totals = {"cases": 0, "requests": 0, "tasks": 0, "failed_cases": 0}
    failures: list[str] = []
    completes: list[float] = []
    stop_at = time.perf_counter() + scale.http_seconds

    def work() -> None:
        mine: list[float] = []
        while time.perf_counter() < stop_at:
            try:
                outcome = runner.run_case(on_complete=mine.append)
            except Exception as exc:  # counted and reported; the run goes on
                with lock:
                    totals["failed_cases"] += 1
                    if len(failures) < 10:
                        failures.append(repr(exc)[:300])
                    if totals["failed_cases"] > 50:
                        return
                continue
            with lock:
                totals["cases"] += 1
                totals["requests"] += outcome["requests"]
                totals["tasks"] += outcome["tasks"]
        with lock:
            completes.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()
    cpu_after, client_after = server.cpu(), os.times()
    rss_after = server.rss()
    cases = totals["cases"]
    server_cpu = cpu_after - cpu_before
    client_cpu = (client_after.user - client_before.user) + (client_after.system - client_before.system)
    out = {
        "client_threads": threads, "seconds": rnd(elapsed, 2), **totals,
        "cases_per_s": rnd(cases / elapsed, 2), "requests_per_s": rnd(totals["requests"] / elapsed, 1),
        "complete_task_under_load": latency_summary(completes),
        "server_cpu_s": rnd(server_cpu, 2), "server_cpu_ms_per_case": rnd(server_cpu / cases * 1000, 1) if cases else None,
        "client_cpu_s": rnd(client_cpu, 2), "client_cpu_ms_per_case": rnd(client_cpu / cases * 1000, 1) if cases else None,
        "ratio_to_baseline_1b": rnd(cases / elapsed / baseline_cases_per_s, 3) if baseline_cases_per_s else None,
        "memory": {"rss_before_mib": rss_before["total_mib"], "rss_peak_mib": rnd(sampler.peak, 1),
                   "rss_after_mib": rss_after["total_mib"], "processes": rss_after["processes"],
                   "per_process_after_mib": rss_after["per_process_mib"]},
        "failures": failures,
    }
    log(f"throughput {server.label}: {out['cases_per_s']} cases/s ({cases} cases, "
        f"{totals['failed_cases']} failed), RSS {rss_before['total_mib']} -> {rss_after['total_mib']} MiB")
    return out
