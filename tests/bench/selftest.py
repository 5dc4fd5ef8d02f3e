"""Checks the harness itself without running a benchmark (used by tests/e2e/tests/bench_harness.rs):
its modules import in the ground's Python, percentiles and the report come out as expected,
rewriting docs/benchmarks.md keeps the hand-written text around the generated block, and each
contender starts with its chart's args and env and nothing of the ground's environment.

Run it with the ground's variables in the environment (the e2e test does): they are what must
not leak."""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402,F401  (imports every module of the harness)
import request_costs  # noqa: E402,F401
import contenders as cont  # noqa: E402
import report  # noqa: E402
from scenarios import pct  # noqa: E402


def sample():
    s1 = {"scenario": "s1", "seconds": 8.0, "synced": 1000, "of": 1000, "bao_requests": 1000, "cpu_s": 3.0,
          "peak_rss_mib": 40.0, "es_per_s": 125.0, "rss_after_mib": 38.0, "alive": True}
    return {"date": "2026-01-01 00:00 UTC", "machine": report.machine(), "load_before": [0.1, 0.1, 0.1],
            "load_after": [0.2, 0.2, 0.2], "duration_s": 60, "eso_version": "0.16.2", "ampoule_rev": "abc",
            "sizes": {"n": 1000, "noise": 10000, "noise_kb": 10, "s3_n": 5000, "s3_new": 50, "s4_keys": 50,
                      "s5_refresh_s": 600},
            "floor": {"secrets": 1000, "seconds": 4.0, "per_s": 250.0, "workers": 32},
            "results": [
                {**s1, "contender": "ESO default", "seconds": 100.0, "es_per_s": 10.0},
                {**s1, "contender": "Ampoule", "children_peak_mib": 90.0},
                {**s1, "scenario": "s2", "contender": "Ampoule", "peak_rss_mib": 45.5},
                {"scenario": "s3", "contender": "Ampoule", "base_sync_s": 40.0, "base_synced": 5000, "of": 5000,
                 "p50_s": 0.3, "p99_s": 0.9, "max_s": 0.9, "new_not_synced": 0, "bao_requests_during": 80,
                 "peak_rss_mib": 60.0},
                {**s1, "scenario": "s4", "contender": "Ampoule", "bao_requests": 50, "bao_requests_window": 50,
                 "window_s": 60},
                {**s1, "scenario": "s5", "contender": "Ampoule", "of": 10000, "synced": 10000, "seconds": 60.0,
                 "namespaces": 1000, "writes_per_es": 2.0, "server_cpu_s": 50.0, "rss_after_mib": 50.0,
                 "requests": {"APPLY secrets": 10000}, "window_s": 700, "bao_requests_window": 10000,
                 "window_writes": 0, "window_cpu_s": 20.0, "cpu_s_per_1000_refreshes": 2.0,
                 "window_requests": {"LIST secretstores": 3}},
                {**s1, "scenario": "s6", "contender": "Ampoule", "of": 50000, "synced": 50000, "seconds": 300.0,
                 "namespaces": 1000, "rss_after_mib": 90.0, "peak_rss_mib": 120.0}],
            "scale_floors": {"10000": {"secrets": 10000, "namespaces": 1000, "seconds": 20.0, "per_s": 500.0,
                                       "workers": 32}}}


# Prints the environment it was started with (/proc/self/environ: Python's own locale coercion
# adds LC_CTYPE to os.environ) and its argv, then waits to be stopped, as a controller would.
PROBE = "import json, sys, time; raw = open('/proc/self/environ', 'rb').read().split(b'\\0'); " \
        "env = dict(i.decode().partition('=')[::2] for i in raw if i); " \
        "print(json.dumps({'env': env, 'argv': sys.argv}), flush=True); time.sleep(60)"


def ground_variables():
    """The names tests/ground/up writes into the ground's env file, read from that file."""
    path = os.path.join(os.environ["GROUND_DIR"], "env")
    with open(path) as f:
        names = [line.split("=", 1)[0][len("export "):] for line in f if line.startswith("export ")]
    assert {"VAULT_TOKEN", "AWS_SECRET_ACCESS_KEY", "KUBE_ADMIN_TOKEN"} <= set(names), names
    return names


def pod_environment():
    """Each contender, rendered from its real chart, started through Running the way the
    benchmark starts it, with the ground's variables in this process's environment."""
    grounded = [n for n in ground_variables() if n != "PATH" and os.environ.get(n)]
    assert "VAULT_TOKEN" in grounded, "run the self-test with the ground's variables set (tests/ground/up)"
    os.environ.setdefault("HELM", os.path.join(os.environ["GROUND_DIR"], "bin", "helm"))
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
    eso_chart = subprocess.run([os.path.join(repo, "tests/bench/lib/eso-chart.sh")], check=True,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1]
    who = cont.contenders("eso", eso_chart, "ampoule", os.path.join(repo, "charts/ampoule"))
    args = {c.name: c.args for c in who}
    # What the charts give: ESO's defaults (one worker), the tuned values as extraArgs, and
    # Ampoule's `run` with its chart's flags.
    assert "--concurrent=1" in args["ESO default"] and not any("client-qps" in a for a in args["ESO default"]), args
    for flag in ("--concurrent=50", "--client-qps=1000", "--client-burst=2000"):
        assert flag in args["ESO tuned"], args
    assert args["Ampoule"][0] == "run" and "--concurrent=32" in args["Ampoule"], args
    # The leak check itself catches a leak.
    leak = {"PATH": cont.POD_PATH, "VAULT_TOKEN": os.environ["VAULT_TOKEN"]}
    assert cont.leaks(leak, os.environ, {"PATH"}) == ["VAULT_TOKEN"], cont.leaks(leak, os.environ, {"PATH"})
    assert cont.leaks({"PATH": os.environ["PATH"]}, os.environ, {"PATH"}) == ["PATH"]
    with tempfile.TemporaryDirectory(prefix="bench-selftest-") as d:
        for c in who:
            probe = cont.Contender(c.name, c.kind, sys.executable, ["-c", PROBE] + c.args, c.env_spec)
            log = os.path.join(d, c.name.replace(" ", "-") + ".log")
            run = cont.Running(probe, log)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not open(log).read().strip():
                    time.sleep(0.1)
                seen = json.loads(open(log).read().splitlines()[0])
            finally:
                run.stop()
            env = seen["env"]
            leaked = [n for n in grounded if n in env and n != "KUBECONFIG"]
            assert not leaked, f"{c.name} got the ground's {leaked}"
            assert env["KUBECONFIG"] == os.environ["KUBECONFIG"] and env["PATH"] == cont.POD_PATH, env
            assert env["HOME"] != os.environ.get("HOME") and env["HOME"].startswith(tempfile.gettempdir()), env
            allowed = set(cont.BASE_ENV) | {e["name"] for e in c.env_spec} | {"AMPOULE_CACHE_DIR"}
            assert set(env) <= allowed, f"{c.name}: unexpected {sorted(set(env) - allowed)}"
            if c.kind == "ampoule":
                assert env["POD_NAMESPACE"] == cont.POD_NAMESPACE and env["AMPOULE_CACHE_DIR"] != "/var/cache/ampoule"
            assert seen["argv"][1:] == [a for a in c.args if not a.startswith("--metrics-addr")] + \
                [a for a in seen["argv"] if a.startswith("--metrics-addr=127.0.0.1:")], seen["argv"]


def main():
    assert pct([1.0, 2.0, 3.0, 4.0], 50) == 2.0, pct([1.0, 2.0, 3.0, 4.0], 50)
    assert pct([float(i) for i in range(1, 101)], 99) == 99.0
    assert pct([0.5], 99) == 0.5 and pct([], 50) is None
    text = report.table(sample())
    for row in ("| ESO default | 100.0 | 25.0 | 10 | 1000 |", "| Ampoule | 8.0 | 2.0 | 125 | 1000 |",
                "| Ampoule | 45.5 | 5.5 |", "| Ampoule | 0.30 | 0.90 |", "| Ampoule | 50 | 50 | 60 |",
                "that child's own peak was 90.0 MiB (s1).",
                "| Ampoule | 60.0 | 3.0 | 125 | 1000 | 2.00 | 50.0 |", "| Ampoule | 700 | 10000 | 0 | 20.0 | 2.00 |",
                "- Ampoule: APPLY secrets 10000", "Memory slope of Ampoule: 1.00 MiB per 1,000"):
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
        # The scale block goes after the main one and is rewritten in place; neither touches the other.
        report.write_doc(path, sample(), report.SCALE)
        report.write_doc(path, sample(), report.SCALE)
        with open(path) as f:
            third = f.read()
        assert third.count(report.SCALE[0]) == 1 and third.count(report.BEGIN) == 1, third
        assert third.index(report.END) < third.index(report.SCALE[0]) and "hand-written intro" in third
    pod_environment()
    print("bench harness self-test ok")


if __name__ == "__main__":
    main()
