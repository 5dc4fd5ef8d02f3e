"""The scenarios of issue 10, each run for one contender alone in a fresh namespace:
1 first sync, 2 scale memory, 3 latency under load, 4 shared keys; and the apiserver floor."""

import base64
import datetime
import math
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from contenders import Running
from kube import ES_GROUP, Tracker, ready

MIB = 1024 * 1024


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Bench:
    def __init__(self, kube, bao, args, logs):
        self.kube, self.bao, self.args, self.logs = kube, bao, args, logs
        self.run_id = uuid.uuid4().hex[:6]
        self.results = []
        self.floor = None

    # ------------------------------------------------------------------ fixtures
    def value(self, scenario, i):
        return f"{scenario}-{i}-{self.run_id}"

    def write_keys(self, scenario, count):
        """KV v2 keys bench/<run>/<scenario>/k-<i> = {value: ...}, written in parallel."""
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda i: self.bao.put(self.key(scenario, i), self.value(scenario, i)), range(count)))

    def key(self, scenario, i):
        return f"bench/{self.run_id}/{scenario}/k-{i}"

    def store(self, ns):
        self.kube.call("POST", f"/api/v1/namespaces/{ns}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bao-token"},
            "stringData": {"token": self.bao.token}})
        self.kube.call("POST", f"{ES_GROUP}/namespaces/{ns}/secretstores", {
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "bao"},
            "spec": {"provider": {"vault": {
                "server": self.bao.addr, "path": "secret", "version": "v2",
                "auth": {"tokenSecretRef": {"name": "bao-token", "key": "token"}}}}}})

    def es(self, name, key, refresh):
        return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
                "spec": {"refreshInterval": refresh, "secretStoreRef": {"name": "bao", "kind": "SecretStore"},
                         "target": {"name": name},
                         "data": [{"secretKey": "value", "remoteRef": {"key": key, "property": "value"}}]}}

    def wait_store(self, ns, run, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and run.alive():
            s = self.kube.call("GET", f"{ES_GROUP}/namespaces/{ns}/secretstores/bao")
            if ready(s):
                return
            time.sleep(0.3)
        raise RuntimeError(f"store in {ns} not Ready after {timeout}s (controller alive: {run.alive()})")

    # ------------------------------------------------------------------ one contender, one scenario
    def start(self, contender, scenario, expected):
        """Namespace + store + watches + the controller; returns (ns, run, secrets, ess)."""
        slug = contender.name.lower().replace(" ", "-")
        ns = self.kube.namespace(f"bench-{scenario}-{slug}-{self.run_id}")
        self.store(ns)
        secrets = Tracker(self.kube, f"/api/v1/namespaces/{ns}/secrets",
                          lambda s: s.get("data", {}).get("value") == expected.get(s["metadata"]["name"]))
        ess = Tracker(self.kube, f"{ES_GROUP}/namespaces/{ns}/externalsecrets", ready)
        run = Running(contender, os.path.join(self.logs, f"{self.run_id}-{scenario}-{slug}.log"))
        self.wait_store(ns, run)
        time.sleep(1)
        return ns, run, secrets, ess

    def finish(self, ns, run, trackers):
        run.stop()
        for t in trackers:
            t.close()
        if not self.kube.delete_namespace(ns, timeout=120):
            for es in self.kube.call("GET", f"{ES_GROUP}/namespaces/{ns}/externalsecrets").get("items", []):
                self.kube.call("PATCH", f"{ES_GROUP}/namespaces/{ns}/externalsecrets/{es['metadata']['name']}",
                               {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
            self.kube.delete_namespace(ns, timeout=600)

    def sync(self, ns, run, secrets, ess, objects, timeout):
        """Creates `objects` at once and waits for their Secrets and Ready conditions."""
        names = [o["metadata"]["name"] for o in objects]
        b0, cpu0, t0 = self.bao.requests(), run.cpu_seconds(), time.monotonic()
        self.kube.create_many(lambda o: f"{ES_GROUP}/namespaces/{ns}/externalsecrets", objects)
        got_s = secrets.wait(names, timeout - (time.monotonic() - t0))
        got_e = ess.wait(names, max(1, timeout - (time.monotonic() - t0)))
        done = got_s == len(names) and got_e == len(names)
        end = max([secrets.first[n] for n in names if n in secrets.first]
                  + [ess.first[n] for n in names if n in ess.first] + [t0])
        seconds = (end - t0) if done else None
        return {"seconds": seconds, "synced": min(got_s, got_e), "of": len(names),
                "bao_requests": self.bao.requests() - b0, "cpu_s": run.cpu_seconds() - cpu0,
                "peak_rss_mib": run.peak_rss() / MIB, "children_peak_mib": run.children_peak / MIB,
                "es_per_s": len(names) / seconds if seconds else None}

    def record(self, scenario, contender, row):
        row = {"scenario": scenario, "contender": contender.name, **row}
        self.results.append(row)
        print("  " + ", ".join(f"{k}={fmt(v)}" for k, v in row.items()), flush=True)
        return row

    # ------------------------------------------------------------------ scenarios
    def floor_run(self, n):
        """Secret creates per second the apiserver accepts from this client (no controller)."""
        ns = self.kube.namespace(f"bench-floor-{self.run_id}")
        objs = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s-{i}"},
                 "data": {"value": b64(self.value("floor", i))}} for i in range(n)]
        seconds = self.kube.create_many(lambda o: f"/api/v1/namespaces/{ns}/secrets", objs)
        self.kube.delete_namespace(ns)
        self.floor = {"secrets": n, "seconds": seconds, "per_s": n / seconds, "workers": self.kube.workers}
        print(f"  floor: {n} Secrets in {seconds:.2f} s ({n / seconds:.0f}/s)", flush=True)

    def first_sync(self, contender, scenario, n, refresh="1h"):
        expected = {f"es-{i}": b64(self.value("s1", i)) for i in range(n)}
        ns, run, secrets, ess = self.start(contender, scenario, expected)
        try:
            row = self.sync(ns, run, secrets, ess, [self.es(f"es-{i}", self.key("s1", i), refresh)
                                                     for i in range(n)], self.args.timeout)
            time.sleep(3)
            row["rss_after_mib"] = run.rss() / MIB
            row["rss_split_after"] = run.rss_split()
            row["alive"] = run.alive()
        finally:
            self.finish(ns, run, [secrets, ess])
        return row

    def latency(self, contender, n, new):
        expected = {f"es-{i}": b64(self.value("s3", i)) for i in range(n)}
        expected.update({f"new-{i}": b64(self.value("s3", n + i)) for i in range(new)})
        ns, run, secrets, ess = self.start(contender, "s3", expected)
        try:
            base = self.sync(ns, run, secrets, ess, [self.es(f"es-{i}", self.key("s3", i), "1m")
                                                      for i in range(n)], self.args.s3_sync_timeout)
            # Let refreshes run (the first ones fall due a minute after the first syncs).
            settle = max(0.0, 65 - (base["seconds"] or 65))
            time.sleep(settle)
            b0 = self.bao.requests()
            created, accepted = {}, {}

            def create(i):
                name = f"new-{i}"
                created[name] = time.monotonic()
                self.kube.call("POST", f"{ES_GROUP}/namespaces/{ns}/externalsecrets",
                               self.es(name, self.key("s3", n + i), "1m"))
                accepted[name] = time.monotonic() - created[name]
            with ThreadPoolExecutor(new) as pool:
                list(pool.map(create, range(new)))
            names = list(created)
            secrets.wait(names, self.args.latency_timeout)
            lat = sorted(secrets.first[k] - created[k] for k in names if k in secrets.first)
            missing = len(names) - len(lat)
            lat += [float("inf")] * missing
            server = sorted(self.server_latency(ns, k) for k in names)
            row = {"base_sync_s": base["seconds"], "base_synced": base["synced"], "of": n,
                   "p50_s": pct(lat, 50), "p99_s": pct(lat, 99), "max_s": lat[-1] if lat else None,
                   "new_not_synced": missing, "create_call_p99_s": pct(sorted(accepted.values()), 99),
                   "server_p50_s": pct(server, 50), "server_p99_s": pct(server, 99),
                   "bao_requests_during": self.bao.requests() - b0,
                   "peak_rss_mib": run.peak_rss() / MIB, "alive": run.alive()}
        finally:
            self.finish(ns, run, [secrets, ess])
        return row

    def server_latency(self, ns, name):
        """Secret creationTimestamp - ExternalSecret creationTimestamp (whole seconds, apiserver
        clock): a cross-check of the watch-based latency that no client-side delay can inflate."""
        es = self.kube.call("GET", f"{ES_GROUP}/namespaces/{ns}/externalsecrets/{name}", ok=(200, 404))
        sec = self.kube.call("GET", f"/api/v1/namespaces/{ns}/secrets/{name}", ok=(200, 404))
        try:
            a, b = (datetime.datetime.fromisoformat(o["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
                    for o in (es, sec))
        except (KeyError, TypeError, ValueError):
            return float("inf")
        return (b - a).total_seconds()

    def shared_keys(self, contender, n, keys, window):
        expected = {f"es-{i}": b64(self.value("s4", i % keys)) for i in range(n)}
        ns, run, secrets, ess = self.start(contender, "s4", expected)
        try:
            row = self.sync(ns, run, secrets, ess, [self.es(f"es-{i}", self.key("s4", i % keys), "1m")
                                                     for i in range(n)], self.args.timeout)
            b0 = self.bao.requests()
            time.sleep(window)
            row["window_s"] = window
            row["bao_requests_window"] = self.bao.requests() - b0
            row["alive"] = run.alive()
        finally:
            self.finish(ns, run, [secrets, ess])
        return row

    def noise(self, count, size):
        ns = self.kube.namespace(f"bench-noise-{self.run_id}")
        blob = base64.b64encode(os.urandom(size)).decode()
        objs = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"noise-{i}"}, "data": {"blob": blob}}
                for i in range(count)]
        seconds = self.kube.create_many(lambda o: f"/api/v1/namespaces/{ns}/secrets", objs)
        print(f"  {count} unrelated {size // 1024} KB Secrets in {ns} ({seconds:.1f} s)", flush=True)
        return ns


def pct(values, p):
    if not values:
        return None
    """Nearest-rank percentile of sorted values."""
    rank = math.ceil(p / 100 * len(values))
    return values[min(len(values), max(1, rank)) - 1]


def fmt(v):
    if isinstance(v, float):
        return "inf" if v == float("inf") else f"{v:.2f}"
    return str(v)
