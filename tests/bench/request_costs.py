"""What each apiserver request an ExternalSecret's first sync makes costs the apiserver (issue 23):
1,000 of each kind sent with 32 parallel connections, the wall time and the apiserver's own CPU
seconds (`process_cpu_seconds_total` from its /metrics) for each kind, all in one run. No
controller runs.

    . .ground/bench/env && "$GROUND_PYTHON" tests/bench/request_costs.py [N]

(the bench ground of tests/bench/compare, with its CRDs installed: Ampoule's or ESO's)."""

import base64
import copy
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kube import ES_GROUP, Kube, server_delta  # noqa: E402


def b64(text):
    return base64.b64encode(text.encode()).decode()


def es(i):
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": f"e-{i}"},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "bao", "kind": "SecretStore"},
                     "target": {"name": f"e-{i}"},
                     "data": [{"secretKey": "value", "remoteRef": {"key": "k", "property": "value"}}]}}


def status(i, at):
    return {"conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced",
                            "lastTransitionTime": "2026-12-07T10:00:00Z"}],
            "refreshTime": f"2026-12-07T{at}Z", "syncedResourceVersion": "1-abc", "binding": {"name": f"e-{i}"}}


def main(n):
    kube = Kube()
    ns = kube.namespace(f"bench-costs-{int(time.time())}")
    rows = []

    def run(label, fn):
        before, t0 = kube.server_metrics(), time.monotonic()
        with ThreadPoolExecutor(kube.workers) as pool:
            list(pool.map(fn, range(n)))
        seconds = time.monotonic() - t0
        cpu = server_delta(before, kube.server_metrics())["server_cpu_s"]
        rows.append((label, seconds, cpu))
        print(f"{label:44s} {seconds:6.2f} s {n / seconds:6.0f}/s  apiserver CPU {cpu:5.2f} s", flush=True)

    secret = f"/api/v1/namespaces/{ns}/secrets"
    labels = {"reconcile.external-secrets.io/managed": "true"}
    notes = {"reconcile.external-secrets.io/data-hash": "abc"}
    try:
        run("POST Secret (the floor)", lambda i: kube.call("POST", secret, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"p-{i}"}, "data": {"value": b64(f"v{i}")}}))
        run("POST Secret with labels and annotation", lambda i: kube.call("POST", secret, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"c-{i}", "labels": labels, "annotations": notes},
            "data": {"value": b64(f"v{i}")}}))
        run("APPLY Secret (new; Ampoule's target write)", lambda i: kube.call(
            "PATCH", f"{secret}/a-{i}?fieldManager=externalsecrets.external-secrets.io/x&force=true", {
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"a-{i}", "labels": labels,
                                                                   "annotations": notes},
                "data": {"value": b64(f"v{i}")}}, ctype="application/apply-patch+yaml"))
        objs = {}

        def create(i):
            objs[i] = kube.call("POST", f"{ES_GROUP}/namespaces/{ns}/externalsecrets", es(i))
        run("POST ExternalSecret (the harness's create)", create)
        path = f"{ES_GROUP}/namespaces/{ns}/externalsecrets"
        run("PATCH ExternalSecret status (merge; Ampoule's)", lambda i: kube.call(
            "PATCH", f"{path}/e-{i}/status", {"status": status(i, "10:00:00")}, ctype="application/merge-patch+json"))

        def get(i):
            objs[i] = kube.call("GET", f"{path}/e-{i}")
        run("GET ExternalSecret", get)

        def put(i):
            o = copy.deepcopy(objs[i])
            o["status"] = status(i, "10:05:00")
            kube.call("PUT", f"{path}/e-{i}/status", o)
        run("PUT ExternalSecret status (update)", put)
        run("APPLY ExternalSecret status", lambda i: kube.call(
            "PATCH", f"{path}/e-{i}/status?fieldManager=bench&force=true", {
                "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": f"e-{i}"},
                "status": status(i, "10:07:00")}, ctype="application/apply-patch+yaml"))
        run("PATCH status refreshTime only (a refresh)", lambda i: kube.call(
            "PATCH", f"{path}/e-{i}/status", {"status": {"refreshTime": "2026-12-07T10:09:00Z"}},
            ctype="application/merge-patch+json"))
        run("PATCH status, no change", lambda i: kube.call(
            "PATCH", f"{path}/e-{i}/status", {"status": {"refreshTime": "2026-12-07T10:09:00Z"}},
            ctype="application/merge-patch+json"))
        run("POST Event (events.k8s.io/v1; Ampoule's)", lambda i: kube.call(
            "POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", {
                "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": f"e-{i}.1"},
                "eventTime": "2026-12-07T10:00:00.000000Z", "reportingController": "external-secrets",
                "reportingInstance": "bench", "action": "Created", "reason": "Created", "type": "Normal",
                "note": "secret created", "regarding": {"apiVersion": "external-secrets.io/v1",
                                                         "kind": "ExternalSecret", "name": f"e-{i}",
                                                         "namespace": ns}}))
        run("GET Secret (a store's credentials)", lambda i: kube.call("GET", f"{secret}/p-{i}"))
    finally:
        kube.delete_namespace(ns)
    floor = rows[0][2] or 1.0
    print("\n| request (×%d) | seconds | apiserver CPU s | CPU × the floor's |\n|---|---:|---:|---:|" % n)
    for label, seconds, cpu in rows:
        print(f"| {label} | {seconds:.2f} | {cpu:.2f} | {cpu / floor:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
