"""The contenders (ESO default, ESO tuned, Ampoule), their CRDs, and what is measured about a
running controller: peak RSS and CPU seconds from /proc, OpenBao requests from its metrics."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import requests
import yaml

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Contender:
    def __init__(self, name, kind, argv):
        self.name, self.kind, self.argv = name, kind, argv

    def command(self):
        port = free_port()
        if self.kind == "eso":
            return self.argv + [f"--metrics-addr=127.0.0.1:{port}"]
        return self.argv + ["--metrics-addr", f"127.0.0.1:{port}"]


def contenders(eso_bin, ampoule_bin, only=None):
    tuned = ["--concurrent=50", "--client-qps=1000", "--client-burst=2000"]
    all_ = [
        Contender("ESO default", "eso", [eso_bin]),
        Contender("ESO tuned", "eso", [eso_bin] + tuned),
        Contender("Ampoule", "ampoule", [ampoule_bin, "run"]),
    ]
    if only:
        keep = {o.strip().lower() for o in only.split(",")}
        all_ = [c for c in all_ if c.name.lower() in keep or c.kind in keep]
    return all_


class Running:
    """One controller process, alone on the ground, with its log in `log_path`."""

    def __init__(self, contender, log_path):
        me = os.getpid()
        if not os.path.exists(f"/proc/{me}/task/{me}/children"):
            # Without it the process tree would quietly shrink to the controller alone.
            raise SystemExit("this kernel has no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN): "
                             "the controller's child processes cannot be counted")
        self.contender = contender
        self.log = open(log_path, "ab")
        env = dict(os.environ)
        self.cache = None
        if contender.kind == "ampoule":
            # An empty module cache, as a new pod has (the chart's cache is an emptyDir): every
            # start compiles the components.
            self.cache = tempfile.mkdtemp(prefix="bench-ampoule-cache-")
            env["AMPOULE_CACHE_DIR"] = self.cache
        self.proc = subprocess.Popen(contender.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self.pid = self.proc.pid
        self.rss_peak_sampled = 0
        self.children_peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        # The whole process tree counts, as it does against a container's memory limit: `ampoule
        # run` compiles its components in a short-lived child process.
        while not self._stop.is_set():
            children = self.descendants()
            tree = self.rss() + sum(self.status("VmRSS", c) for c in children)
            self.rss_peak_sampled = max(self.rss_peak_sampled, tree)
            self.children_peak = max([self.children_peak] + [self.status("VmHWM", c) for c in children])
            self._stop.wait(0.2)

    def descendants(self, pid=None):
        pid = pid or self.pid
        out = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    for child in f.read().split():
                        out.append(int(child))
                        out.extend(self.descendants(int(child)))
        except OSError:
            pass
        return out

    def alive(self):
        return self.proc.poll() is None

    def status(self, field, pid=None):
        try:
            with open(f"/proc/{pid or self.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def rss(self):
        return self.status("VmRSS")

    def rss_split(self):
        """Resident anonymous memory (heap, stacks) and file-backed pages (the binary's code), MiB."""
        out = {}
        try:
            with open(f"/proc/{self.pid}/smaps_rollup") as f:
                for line in f:
                    k, _, rest = line.partition(":")
                    if k in ("Anonymous", "Rss"):
                        out[k] = int(rest.split()[0]) / 1024
        except OSError:
            return None
        return {"anon_mib": out.get("Anonymous"), "file_mib": (out.get("Rss") or 0) - (out.get("Anonymous") or 0)}

    def peak_rss(self):
        """Peak resident set since the process started, in bytes: its own VmHWM or, when higher,
        the peak of its process tree (sampled every 0.2 s)."""
        return max(self.status("VmHWM"), self.rss_peak_sampled)

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # utime + stime, plus those of children it has waited for (cutime + cstime).
            return sum(int(f) for f in fields[11:15]) / TICKS
        except OSError:
            return 0.0

    def stop(self):
        self._stop.set()
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(15)
        self.log.close()
        if self.cache:
            shutil.rmtree(self.cache, ignore_errors=True)


class Bao:
    """OpenBao: KV v2 writes and the request counter (`vault_core_handle_request_count`)."""

    def __init__(self):
        self.addr = os.environ["VAULT_ADDR"]
        self.token = os.environ["VAULT_TOKEN"]
        self.local = threading.local()

    def session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
            s.trust_env = False
            s.headers["X-Vault-Token"] = self.token
        return s

    def put(self, key, value):
        r = self.session().post(f"{self.addr}/v1/secret/data/{key}", json={"data": {"value": value}},
                                timeout=30)
        r.raise_for_status()

    def requests(self):
        r = self.session().get(f"{self.addr}/v1/sys/metrics", params={"format": "prometheus"}, timeout=30)
        r.raise_for_status()
        m = re.search(r"^vault_core_handle_request_count (\S+)$", r.text, re.M)
        if not m:
            raise RuntimeError("OpenBao metrics have no vault_core_handle_request_count")
        return int(float(m.group(1)))


def crd_docs(contender_kind, eso_crds, ampoule_bin):
    """The external-secrets.io CRDs of a contender as one JSON List (conversion: None)."""
    if contender_kind == "eso":
        docs = []
        for f in sorted(os.listdir(eso_crds)):
            if f.endswith(".yaml"):
                with open(os.path.join(eso_crds, f)) as fh:
                    docs += [d for d in yaml.safe_load_all(fh) if d]
    else:
        out = subprocess.run([ampoule_bin, "crd"], check=True, capture_output=True, text=True).stdout
        docs = [d for d in yaml.safe_load_all(out) if d]
    for d in docs:
        if d.get("kind") == "CustomResourceDefinition":
            d["spec"]["conversion"] = {"strategy": "None"}
    return {"apiVersion": "v1", "kind": "List", "items": docs}


def install_crds(kube, contender_kind, eso_crds, ampoule_bin):
    """Server-side applies the contender's CRDs under one field manager (so the other
    contender's fields are replaced, not merged) and waits until they are Established."""
    docs = crd_docs(contender_kind, eso_crds, ampoule_bin)
    subprocess.run(["kubectl", "apply", "--server-side", "--force-conflicts", "--field-manager=bench-crds",
                    "-f", "-"], input=json.dumps(docs), check=True, capture_output=True, text=True)
    names = [d["metadata"]["name"] for d in docs["items"] if d.get("kind") == "CustomResourceDefinition"]
    subprocess.run(["kubectl", "wait", "--for=condition=Established", "--timeout=60s"]
                   + [f"crd/{n}" for n in names], check=True, capture_output=True)
    # The apiserver serves a changed schema a moment after Established; give discovery a beat.
    time.sleep(2)
