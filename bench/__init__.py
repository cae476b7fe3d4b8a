"""Benchmark harness for Binglian (并联审批).

Run everything with ``python -m bench.run`` (``make bench``); it writes
``BENCHMARKS.md`` at the repository root and ``bench/results/<timestamp>.json``.
``python -m bench.run --smoke`` runs every measurement with tiny counts;
``python -m bench.run --render bench/results/<file>.json`` rewrites the report from a results file.
One module per measurement; each returns plain JSON-able dicts.
"""
