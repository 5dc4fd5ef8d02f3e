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
from kube import ES_GROUP, Tracker, ready, server_delta

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
        self.drop_namespaces([ns])

    def drop_namespaces(self, names):
        """Deletes the namespaces and waits until they are gone; ExternalSecrets a stopped
        controller left finalizers on are released."""
        with ThreadPoolExecutor(min(32, len(names))) as pool:
            gone = list(pool.map(lambda ns: self.kube.delete_namespace(ns, timeout=300), names))
        for ns, ok in zip(names, gone):
            if ok:
                continue
            for es in self.kube.call("GET", f"{ES_GROUP}/namespaces/{ns}/externalsecrets").get("items", []):
                self.kube.call("PATCH", f"{ES_GROUP}/namespaces/{ns}/externalsecrets/{es['metadata']['name']}",
                               {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
            self.kube.delete_namespace(ns, timeout=600)

    def sync(self, ns, run, secrets, ess, objects, timeout):
        """Creates `objects` at once (each in its `metadata.namespace`, else in `ns`) and waits for
        their Secrets and Ready conditions. With `ns` None, the trackers key objects by
        namespace/name."""
        if ns is None:
            names = [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in objects]
        else:
            names = [o["metadata"]["name"] for o in objects]
        server0 = self.kube.server_metrics()
        b0, cpu0, t0 = self.bao.requests(), run.cpu_seconds(), time.monotonic()
        self.kube.create_many(
            lambda o: f"{ES_GROUP}/namespaces/{o['metadata'].get('namespace', ns)}/externalsecrets", objects)
        got_s = secrets.wait(names, timeout - (time.monotonic() - t0))
        got_e = ess.wait(names, max(1, timeout - (time.monotonic() - t0)))
        done = got_s == len(names) and got_e == len(names)
        end = max([secrets.first[n] for n in names if n in secrets.first]
                  + [ess.first[n] for n in names if n in ess.first] + [t0])
        seconds = (end - t0) if done else None
        # Read once every object is synced (or the time is up): the controller's last writes of the
        # sync (an event sent after its status) may still be on their way and count in the next
        # interval instead.
        server = server_delta(server0, self.kube.server_metrics(), harness=len(objects))
        return {"seconds": seconds, "synced": min(got_s, got_e), "of": len(names),
                "bao_requests": self.bao.requests() - b0, "cpu_s": run.cpu_seconds() - cpu0,
                "peak_rss_mib": run.peak_rss() / MIB, "children_peak_mib": run.children_peak / MIB,
                "es_per_s": len(names) / seconds if seconds else None, **server,
                "writes_per_es": server["controller_writes"] / len(names)}

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

    def scale_floor(self, n, spread):
        """The floor at scale: n plain Secrets across `spread` namespaces, as the scale scenarios
        lay out their ExternalSecrets."""
        names = [f"bench-floor-{n}-{self.run_id}-{j}" for j in range(spread)]
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(self.kube.namespace, names))
        objs = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s-{i}", "namespace": names[i % spread]},
                 "data": {"value": b64(self.value("floor", i))}} for i in range(n)]
        seconds = self.kube.create_many(lambda o: f"/api/v1/namespaces/{o['metadata']['namespace']}/secrets", objs)
        self.drop_namespaces(names)
        floor = {"secrets": n, "namespaces": spread, "seconds": seconds, "per_s": n / seconds,
                 "workers": self.kube.workers}
        print(f"  floor: {n} Secrets in {spread} namespaces in {seconds:.2f} s ({n / seconds:.0f}/s)", flush=True)
        return floor

    def wait_stores(self, namespaces, run, timeout=600):
        """Waits until the SecretStore `bao` of every namespace is Ready."""
        want, deadline = set(namespaces), time.monotonic() + timeout
        while time.monotonic() < deadline and run.alive():
            ready_ns, cont = set(), None
            while True:
                page = self.kube.call("GET", f"{ES_GROUP}/secretstores",
                                      params={"limit": 2000, **({"continue": cont} if cont else {})})
                ready_ns |= {s["metadata"]["namespace"] for s in page.get("items", []) if ready(s)}
                cont = page.get("metadata", {}).get("continue")
                if not cont:
                    break
            if want <= ready_ns:
                return
            time.sleep(2)
        raise RuntimeError(f"stores not Ready after {timeout}s (controller alive: {run.alive()})")

    def scale(self, contender, scenario, n, spread, refresh, window):
        """n ExternalSecrets across `spread` namespaces (a token Secret and a SecretStore in each),
        created at once: the first sync; then, with `window`, one refresh of all n at `refresh`
        (seconds): what the backend, the controller and the apiserver do while each ExternalSecret
        refreshes once with nothing changed."""
        slug = contender.name.lower().replace(" ", "-")
        namespaces = [f"bench-{scenario}-{slug}-{self.run_id}-{j}" for j in range(spread)]
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(self.kube.namespace, namespaces))
            list(pool.map(self.store, namespaces))
        key = lambda o: f"{o['metadata']['namespace']}/{o['metadata']['name']}"  # noqa: E731
        objects = []
        for i in range(n):
            o = self.es(f"es-{i}", self.key(scenario, i), f"{refresh}s")
            o["metadata"]["namespace"] = namespaces[i % spread]
            objects.append(o)
        expected = {key(o): b64(self.value(scenario, i)) for i, o in enumerate(objects)}
        secrets = Tracker(self.kube, "/api/v1/secrets",
                          lambda s: s.get("data", {}).get("value") == expected.get(key(s)), key)
        ess = Tracker(self.kube, f"{ES_GROUP}/externalsecrets", ready, key)
        run = Running(contender, os.path.join(self.logs, f"{self.run_id}-{scenario}-{slug}.log"))
        try:
            started = time.monotonic()
            self.wait_stores(namespaces, run)
            print(f"  {spread} stores Ready {time.monotonic() - started:.1f} s after the start", flush=True)
            time.sleep(1)
            row = self.sync(None, run, secrets, ess, objects, self.args.timeout)
            row["namespaces"] = spread
            time.sleep(3)
            row["rss_after_mib"] = run.rss() / MIB
            row["rss_split_after"] = run.rss_split()
            if window and row["seconds"]:
                row.update(self.refresh_window(run, refresh, row["seconds"]))
            row["alive"] = run.alive()
        finally:
            run.stop()
            secrets.close()
            ess.close()
            self.drop_namespaces(namespaces)
        return row

    def refresh_window(self, run, refresh, sync_seconds):
        """Every ExternalSecret synced within `sync_seconds` of the first create, so each one
        refreshes once in the next refresh + sync_seconds + 45 s (Ampoule adds up to 30 s of
        jitter to a 10m interval) and not twice while refresh is longer than that."""
        length = refresh + sync_seconds + 45
        server0, b0, cpu0 = self.kube.server_metrics(), self.bao.requests(), run.cpu_seconds()
        print(f"  refresh window: {length:.0f} s", flush=True)
        time.sleep(length)
        server = server_delta(server0, self.kube.server_metrics())
        calls, cpu = self.bao.requests() - b0, run.cpu_seconds() - cpu0
        return {"window_s": round(length), "bao_requests_window": calls,
                "window_requests": server["requests"], "window_writes": server["controller_writes"],
                "window_server_cpu_s": server["server_cpu_s"], "window_cpu_s": cpu,
                "cpu_s_per_1000_refreshes": cpu / calls * 1000 if calls else None,
                "window_rss_mib": run.rss() / MIB, "window_peak_rss_mib": run.peak_rss() / MIB}

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
