"""Checks the harness itself without running a benchmark (used by tests/e2e/tests/bench_harness.rs):
its modules import in the ground's Python, percentiles and the report come out as expected, and
rewriting docs/benchmarks.md keeps the hand-written text around the generated block."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402,F401  (imports every module of the harness)
import report  # noqa: E402
from scenarios import pct  # noqa: E402


def sample():
    s1 = {"scenario": "s1", "seconds": 8.0, "synced": 1000, "of": 1000, "bao_requests": 1000, "cpu_s": 3.0,
          "peak_rss_mib": 40.0, "es_per_s": 125.0, "rss_after_mib": 38.0, "alive": True}
    return {"date": "2026-01-01 00:00 UTC", "machine": report.machine(), "load_before": [0.1, 0.1, 0.1],
            "load_after": [0.2, 0.2, 0.2], "duration_s": 60, "eso_version": "0.16.2", "ampoule_rev": "abc",
            "sizes": {"n": 1000, "noise": 10000, "noise_kb": 10, "s3_n": 5000, "s3_new": 50, "s4_keys": 50},
            "floor": {"secrets": 1000, "seconds": 4.0, "per_s": 250.0, "workers": 32},
            "results": [
                {**s1, "contender": "ESO default", "seconds": 100.0, "es_per_s": 10.0},
                {**s1, "contender": "Ampoule", "children_peak_mib": 90.0},
                {**s1, "scenario": "s2", "contender": "Ampoule", "peak_rss_mib": 45.5},
                {"scenario": "s3", "contender": "Ampoule", "base_sync_s": 40.0, "base_synced": 5000, "of": 5000,
                 "p50_s": 0.3, "p99_s": 0.9, "max_s": 0.9, "new_not_synced": 0, "bao_requests_during": 80,
                 "peak_rss_mib": 60.0},
                {**s1, "scenario": "s4", "contender": "Ampoule", "bao_requests": 50, "bao_requests_window": 50,
                 "window_s": 60}]}


def main():
    assert pct([1.0, 2.0, 3.0, 4.0], 50) == 2.0, pct([1.0, 2.0, 3.0, 4.0], 50)
    assert pct([float(i) for i in range(1, 101)], 99) == 99.0
    assert pct([0.5], 99) == 0.5 and pct([], 50) is None
    text = report.table(sample())
    for row in ("| ESO default | 100.0 | 25.0 | 10 | 1000 |", "| Ampoule | 8.0 | 2.0 | 125 | 1000 |",
                "| Ampoule | 45.5 | 5.5 |", "| Ampoule | 0.30 | 0.90 |", "| Ampoule | 50 | 50 | 60 |",
                "that child's own peak was 90.0 MiB (s1)."):
        assert row in text, f"missing {row!r} in:\n{text}"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "benchmarks.md")
        report.write_doc(path, sample())
        with open(path) as f:
            first = f.read()
        with open(path, "w") as f:
            f.write("# Title\n\nhand-written intro\n\n" + first[first.index(report.BEGIN):] + "\nhand-written notes\n")
        report.write_doc(path, sample())
        with open(path) as f:
            second = f.read()
        assert "hand-written intro" in second and "hand-written notes" in second, second
        assert second.count(report.BEGIN) == 1 and "| Ampoule | 8.0 |" in second
    print("bench harness self-test ok")


if __name__ == "__main__":
    main()
