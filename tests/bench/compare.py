"""Ampoule vs External Secrets Operator on the same ground, one contender at a time (issue 10).

Run through `tests/bench/compare`, which brings the bench ground up, builds both operators and
sets the environment this script reads (the ground's env, ESO_BIN, ESO_CRDS, AMPOULE_BIN)."""

import argparse
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from contenders import Bao, contenders, install_crds  # noqa: E402
from kube import ES_GROUP, Kube  # noqa: E402
import report  # noqa: E402
from scenarios import Bench  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))


def env_int(name, default):
    return int(os.environ.get(name, default))


def parse(argv):
    p = argparse.ArgumentParser(prog="tests/bench/compare", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=env_int("BENCH_N", 1000),
                   help="ExternalSecrets in scenarios 1, 2 and 4 (and Secrets of the floor)")
    p.add_argument("--noise", type=int, default=env_int("BENCH_NOISE", 10000),
                   help="unrelated Secrets in the cluster for scenario 2")
    p.add_argument("--noise-kb", type=int, default=10, help="size of each unrelated Secret")
    p.add_argument("--s3-n", type=int, default=env_int("BENCH_S3_N", 5000),
                   help="ExternalSecrets refreshing every minute in scenario 3")
    p.add_argument("--s3-new", type=int, default=env_int("BENCH_S3_NEW", 50),
                   help="new ExternalSecrets whose latency scenario 3 measures")
    p.add_argument("--s4-keys", type=int, default=50, help="distinct keys the scenario 4 ExternalSecrets read")
    p.add_argument("--window", type=int, default=60, help="scenario 4 refresh window to count requests in (s)")
    p.add_argument("--s5-n", type=int, default=env_int("BENCH_S5_N", 10000),
                   help="ExternalSecrets in scenario 5 (scale: first sync, then one refresh window)")
    p.add_argument("--s6-n", type=int, default=env_int("BENCH_S6_N", 50000),
                   help="ExternalSecrets in scenario 6 (scale, Ampoule alone: first sync and memory)")
    p.add_argument("--scale-namespaces", type=int, default=1000,
                   help="namespaces the scenario 5 and 6 ExternalSecrets spread over (one SecretStore each)")
    p.add_argument("--s5-refresh", type=int, default=600,
                   help="scenario 5 refreshInterval in seconds; its refresh window lasts about this long")
    p.add_argument("--s6-timeout", type=int, default=1800, help="give up on scenario 6's first sync after this long")
    p.add_argument("--scenarios", default=os.environ.get("BENCH_SCENARIOS", "1,2,3,4"),
                   help="which scenarios to run (1-4, and the scale scenarios 5 and 6, which take about an "
                        "hour and write their own block of docs/benchmarks.md)")
    p.add_argument("--only", default=os.environ.get("BENCH_ONLY"),
                   help="comma-separated contenders ('ESO default', 'ESO tuned', 'Ampoule', or eso/ampoule)")
    p.add_argument("--timeout", type=int, default=600, help="give up on a first sync after this many seconds")
    p.add_argument("--s3-sync-timeout", type=int, default=600,
                   help="scenario 3: measure the new ones anyway after this many seconds of initial sync")
    p.add_argument("--latency-timeout", type=int, default=180, help="scenario 3: wait this long for the new ones")
    p.add_argument("--doc", default=None,
                   help="write the run into this markdown file (default: docs/benchmarks.md when the sizes "
                        "are the issue's, none otherwise)")
    p.add_argument("--json", default=None, help="also write the JSON here")
    p.add_argument("--check", action="store_true", help="only check that the environment is complete")
    return p.parse_args(argv)


def main(argv):
    args = parse(argv)
    missing = [v for v in ("KUBECONFIG", "KUBE_APISERVER", "KUBE_ADMIN_TOKEN", "KUBE_CA_FILE", "VAULT_ADDR",
                           "VAULT_TOKEN", "ESO_BIN", "ESO_CRDS", "ESO_CHART", "AMPOULE_BIN") if not os.environ.get(v)]
    if missing:
        sys.exit(f"compare.py: missing environment {missing}: run it through tests/bench/compare")
    if args.check:
        print("environment complete")
        return
    scenarios = {s.strip() for s in args.scenarios.split(",")}
    full = (args.n, args.noise, args.s3_n, args.s3_new) == (1000, 10000, 5000, 50) and args.scenarios == "1,2,3,4" \
        and not args.only
    # The scale run has its own block: ESO default cannot sync 10,000 within the time limit at its
    # rate of scenario 1, so a run may leave it out (--only).
    scale = scenarios == {"5", "6"} and (args.s5_n, args.s6_n, args.scale_namespaces, args.s5_refresh) == \
        (10000, 50000, 1000, 600)
    doc = args.doc or (os.path.join(REPO, "docs/benchmarks.md") if full or scale else None)
    block = report.SCALE if scenarios <= {"5", "6"} else report.MAIN
    logs = os.path.join(os.environ.get("GROUND_DIR", "/tmp"), "logs", "bench")
    os.makedirs(logs, exist_ok=True)

    kube, bao = Kube(), Bao()
    bench = Bench(kube, bao, args, logs)
    eso_bin, eso_crds, ampoule_bin = os.environ["ESO_BIN"], os.environ["ESO_CRDS"], os.environ["AMPOULE_BIN"]
    who = contenders(eso_bin, os.environ["ESO_CHART"], ampoule_bin, os.path.join(REPO, "charts/ampoule"), args.only)
    started, load_before = time.monotonic(), report.load()
    print(f"bench run {bench.run_id}: contenders {[c.name for c in who]}, scenarios {sorted(scenarios)}, "
          f"load {load_before}; controller logs in {logs}", flush=True)

    # Ampoule's CRDs (with ProviderClass) first: the Vault ProviderClass allows loopback egress
    # (OpenBao listens on 127.0.0.1). A marker object proves that swapping CRDs keeps objects.
    install_crds(kube, "ampoule", eso_crds, ampoule_bin)
    kube.call("PATCH", "/apis/ampoule.dev/v1alpha1/providerclasses/vault?fieldManager=bench&force=true", {
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "vault", "sandbox": {"egress": {"privateNetworks": "Allow"}}}},
        ctype="application/apply-patch+yaml")
    marker_ns = kube.namespace("bench-marker")
    marker_path = f"{ES_GROUP}/namespaces/{marker_ns}/secretstores/marker"
    kube.call("PATCH", marker_path + "?fieldManager=bench&force=true", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "marker"},
        "spec": {"controller": "no-such-controller", "provider": {"vault": {
            "server": bao.addr, "auth": {"tokenSecretRef": {"name": "none", "key": "token"}}}}}},
        ctype="application/apply-patch+yaml")
    marker = {"uid": kube.call("GET", marker_path)["metadata"]["uid"], "swaps": 0, "kept": True}
    current = ["ampoule"]

    def use(contender):
        if current[0] != contender.kind:
            install_crds(kube, contender.kind, eso_crds, ampoule_bin)
            current[0] = contender.kind
            marker["swaps"] += 1
            got = kube.call("GET", marker_path, ok=(200, 404))
            marker["kept"] = marker["kept"] and (got or {}).get("metadata", {}).get("uid") == marker["uid"]
            if not marker["kept"]:
                sys.exit("swapping CRDs lost an object: stopping")
        leftover = kube.count(f"{ES_GROUP}/externalsecrets")
        if leftover:
            print(f"  warning: {leftover} ExternalSecrets left over from an earlier run", flush=True)

    floors = {}
    if scenarios & {"1", "2", "3", "4"}:
        print(f"floor: {args.n} Secret creates", flush=True)
        bench.floor_run(args.n)
    for s, size in (("5", args.s5_n), ("6", args.s6_n)):
        if s in scenarios and size not in floors:
            print(f"floor: {size} Secret creates in {args.scale_namespaces} namespaces", flush=True)
            floors[size] = bench.scale_floor(size, args.scale_namespaces)
    for s in ("s1", "s3", "s4", "s5", "s6"):
        if s[1] in scenarios:
            count = {"s1": args.n, "s3": args.s3_n + args.s3_new, "s4": args.s4_keys, "s5": args.s5_n,
                     "s6": args.s6_n}[s]
            print(f"writing {count} keys for {s} into OpenBao", flush=True)
            bench.write_keys(s, count)

    ordered = [c for c in who if c.kind == "eso"] + [c for c in who if c.kind != "eso"]
    if "1" in scenarios:
        print("scenario 1: first sync", flush=True)
        for c in ordered:
            use(c)
            bench.record("s1", c, bench.first_sync(c, "s1", args.n))
    if "2" in scenarios:
        if "1" not in scenarios:
            bench.write_keys("s1", args.n)
        print("scenario 2: scale memory", flush=True)
        noise_ns = bench.noise(args.noise, args.noise_kb * 1024)
        try:
            for c in ordered:
                use(c)
                bench.record("s2", c, bench.first_sync(c, "s2", args.n))
        finally:
            kube.delete_namespace(noise_ns)
    if "3" in scenarios:
        print("scenario 3: latency under load", flush=True)
        for c in reversed(ordered):
            use(c)
            bench.record("s3", c, bench.latency(c, args.s3_n, args.s3_new))
    if "4" in scenarios:
        print("scenario 4: shared keys", flush=True)
        for c in reversed(ordered):
            use(c)
            bench.record("s4", c, bench.shared_keys(c, args.n, args.s4_keys, args.window))
    if "5" in scenarios:
        print(f"scenario 5: {args.s5_n} ExternalSecrets in {args.scale_namespaces} namespaces", flush=True)
        for c in reversed(ordered):
            use(c)
            bench.record("s5", c, bench.scale(c, "s5", args.s5_n, args.scale_namespaces, args.s5_refresh, True))
    if "6" in scenarios:
        print(f"scenario 6: {args.s6_n} ExternalSecrets in {args.scale_namespaces} namespaces, Ampoule alone",
              flush=True)
        timeout, args.timeout = args.timeout, args.s6_timeout
        for c in [c for c in ordered if c.kind == "ampoule"]:
            use(c)
            bench.record("s6", c, bench.scale(c, "s6", args.s6_n, args.scale_namespaces, args.s5_refresh, False))
        args.timeout = timeout
    if current[0] != "ampoule":
        install_crds(kube, "ampoule", eso_crds, ampoule_bin)
    kube.delete_namespace(marker_ns)

    data = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": report.machine(), "load_before": load_before, "load_after": report.load(),
            "duration_s": round(time.monotonic() - started), "eso_version": os.environ.get("ESO_VERSION", "?"),
            "ampoule_rev": os.environ.get("AMPOULE_REV") or report.git_rev(REPO), "run_id": bench.run_id,
            "sizes": {"n": args.n, "noise": args.noise, "noise_kb": args.noise_kb, "s3_n": args.s3_n,
                      "s3_new": args.s3_new, "s4_keys": args.s4_keys, "window_s": args.window,
                      "s5_n": args.s5_n, "s6_n": args.s6_n, "scale_namespaces": args.scale_namespaces,
                      "s5_refresh_s": args.s5_refresh},
            "contenders": {c.name: c.args for c in who},
            "contender_env": {c.name: sorted(c.environment("-", "-", "-")) for c in who},
            "crd_swaps": marker, "floor": bench.floor,
            "scale_floors": {str(k): v for k, v in floors.items()}, "results": bench.results}
    print()
    print(report.facts(data))
    print()
    print(report.table(data))
    print(json.dumps(data, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    if doc:
        report.write_doc(doc, data, block)
        print(f"wrote {doc}")


if __name__ == "__main__":
    main(sys.argv[1:])
