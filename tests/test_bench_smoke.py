"""The benchmark harness runs end to end (tiny counts) and produces every figure; no timing is asserted."""
from bench.smoke import REQUIRED_FIGURES, problems, run_smoke


def test_bench_smoke_run_produces_every_figure(tmp_path):
    results = run_smoke(tmp_path, markdown=tmp_path / "BENCHMARKS.md")
    assert problems(results) == []
    assert set(REQUIRED_FIGURES) <= set(results["figures"])
    assert list((tmp_path / "results").glob("*.json"))
    report = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "Figures against targets" in report and "Errors seen" in report


def test_the_harness_imports_neither_the_app_nor_its_config():
    """`make bench` copies the code before it loads any of it (bench/common.py's use_snapshot),
    so that a work tree edited during the run is not measured: importing the harness must not
    load `app` or `config` already."""
    import subprocess
    import sys
    probe = ("import sys, bench.run, bench.server, bench.report, bench.smoke; "
             "print(sorted(m for m in ('app', 'config') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
