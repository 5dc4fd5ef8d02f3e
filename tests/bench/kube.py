"""A small, fast client for the ground's apiserver: parallel creates, namespaces, and watches that
record when each object first reached a wanted state (so the harness never polls)."""

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import urllib3

ES_GROUP = "/apis/external-secrets.io/v1"


class Kube:
    """REST calls with the admin token of the ground (`.ground/env`)."""

    def __init__(self, workers=32):
        self.base = os.environ["KUBE_APISERVER"]
        self.headers = {"Authorization": "Bearer " + os.environ["KUBE_ADMIN_TOKEN"]}
        self.ca = os.environ["KUBE_CA_FILE"]
        self.workers = workers
        self.local = threading.local()
        urllib3.disable_warnings()

    def session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = requests.Session()
            s.verify = self.ca
            s.headers.update(self.headers)
            s.trust_env = False  # REQUESTS_CA_BUNDLE would replace the ground CA
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4)
            s.mount("https://", adapter)
            self.local.s = s
        return s

    def call(self, method, path, body=None, ok=(200, 201, 202), params=None, ctype=None):
        headers = {"Content-Type": ctype} if ctype else None
        for attempt in range(6):
            r = self.session().request(method, self.base + path, json=body, params=params,
                                       headers=headers, timeout=60)
            if r.status_code in ok:
                return r.json() if r.content else None
            if r.status_code in (429, 500, 503, 504) and attempt < 5:
                time.sleep(0.2 * (attempt + 1))
                continue
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code}: {r.text[:300]}")
        return None

    def create_many(self, path_of, objects):
        """POSTs every object with `workers` parallel connections; returns the seconds it took."""
        start = time.monotonic()
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(lambda o: self.call("POST", path_of(o), o), objects))
        return time.monotonic() - start

    def namespace(self, name):
        self.call("POST", "/api/v1/namespaces",
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, ok=(201, 409))
        return name

    def delete_namespace(self, name, timeout=600):
        """Deletes a namespace and waits until it is gone (so it does not load the next run)."""
        self.call("DELETE", f"/api/v1/namespaces/{name}", ok=(200, 202, 404))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.session().get(f"{self.base}/api/v1/namespaces/{name}", timeout=30)
            if r.status_code == 404:
                return True
            time.sleep(1)
        return False

    def server_metrics(self):
        """The apiserver's own counters from its /metrics: requests by verb and resource
        (`apiserver_request_total`, every client's, this harness's too) and its CPU seconds
        (`process_cpu_seconds_total`)."""
        r = self.session().get(self.base + "/metrics", timeout=60)
        r.raise_for_status()
        requests_, cpu = {}, 0.0
        for line in r.text.splitlines():
            if line.startswith("apiserver_request_total{"):
                labels = dict(LABEL.findall(line[:line.rindex("}")]))
                resource = labels.get("resource", "")
                if labels.get("subresource"):
                    resource += "/" + labels["subresource"]
                key = f"{labels.get('verb', '?')} {resource}"
                requests_[key] = requests_.get(key, 0) + float(line.rsplit(" ", 1)[1])
            elif line.startswith("process_cpu_seconds_total "):
                cpu = float(line.split()[1])
        return {"requests": requests_, "cpu_s": cpu}

    def count(self, path):
        items = self.call("GET", path, params={"limit": 500})
        n = len(items.get("items", []))
        while items.get("metadata", {}).get("continue"):
            items = self.call("GET", path, params={"limit": 500, "continue": items["metadata"]["continue"]})
            n += len(items.get("items", []))
        return n


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
WRITES = ("POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION")


def server_delta(before, after, harness=None):
    """What the apiserver did between two `server_metrics` readings: requests by "VERB resource"
    (zero rows dropped), writes (minus `harness`, the writes this harness itself made in
    between) and its CPU seconds."""
    req = {k: round(v - before["requests"].get(k, 0)) for k, v in after["requests"].items()}
    req = {k: v for k, v in sorted(req.items()) if v > 0}
    writes = sum(v for k, v in req.items() if k.split(" ", 1)[0] in WRITES) - (harness or 0)
    return {"requests": req, "controller_writes": writes, "server_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2)}


class Tracker:
    """Watches a collection and records, per object name, when `check(obj)` first became true."""

    def __init__(self, kube, path, check, key=None):
        self.kube, self.path, self.check = kube, path, check
        self.key = key or (lambda obj: obj["metadata"]["name"])
        self.first = {}
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = kube.ca
        self.http.headers.update(kube.headers)
        self.cond = threading.Condition()
        self.stop = threading.Event()
        rv = kube.call("GET", path, params={"limit": 1})["metadata"]["resourceVersion"]
        self.thread = threading.Thread(target=self._run, args=(rv,), daemon=True)
        self.thread.start()

    def _run(self, rv):
        while not self.stop.is_set():
            try:
                params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                          "timeoutSeconds": "1800"}
                with self.http.get(self.kube.base + self.path, params=params, stream=True,
                                   timeout=(10, 60)) as r:
                    for line in r.iter_lines(chunk_size=None):
                        if self.stop.is_set():
                            return
                        if not line:
                            continue
                        ev = json.loads(line)
                        obj = ev.get("object", {})
                        if ev.get("type") == "ERROR":
                            rv = None
                            break
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if ev.get("type") in ("ADDED", "MODIFIED"):
                            self._seen(obj)
            except (requests.RequestException, ValueError):
                pass
            if rv is None and not self.stop.is_set():
                rv = self._relist()

    def _relist(self):
        items = self.kube.call("GET", self.path)
        for obj in items.get("items", []):
            self._seen(obj)
        return items["metadata"]["resourceVersion"]

    def _seen(self, obj):
        name = self.key(obj)
        if name in self.first or not self.check(obj):
            return
        with self.cond:
            self.first[name] = time.monotonic()
            self.cond.notify_all()

    def wait(self, names, timeout):
        """Waits until every name reached the state; returns how many did."""
        names = set(names)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                done = sum(1 for n in names if n in self.first)
                left = deadline - time.monotonic()
                if done == len(names) or left <= 0:
                    return done
                self.cond.wait(min(left, 1.0))

    def close(self):
        self.stop.set()


def ready(es):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in es.get("status", {}).get("conditions", []) or [])
