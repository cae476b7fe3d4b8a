"""The benchmark harness runs end to end (tiny counts) and produces every figure; no timing is asserted."""
from bench.smoke import REQUIRED_FIGURES, problems, run_smoke


def test_bench_smoke_run_produces_every_figure(tmp_path):
    results = run_smoke(tmp_path, markdown=tmp_path / "BENCHMARKS.md")
    assert problems(results) == []
    assert set(REQUIRED_FIGURES) <= set(results["figures"])
    assert list((tmp_path / "results").glob("*.json"))
    report = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "Figures against targets" in report and "Errors seen" in report
