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


# What a container's PATH is when the image sets none (containerd's and runc's default).
POD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Names every contender's environment may hold besides its chart's `env` entries: a container
# gets PATH, HOSTNAME and HOME; KUBECONFIG stands in for the in-cluster configuration (service
# account token and KUBERNETES_SERVICE_*), since the contenders run out of cluster.
BASE_ENV = ("PATH", "HOSTNAME", "HOME", "KUBECONFIG")


class Contender:
    """A controller as a Helm install of its chart would run it: the container's args and env
    (from `helm template`), with the metrics address moved to a free loopback port."""

    def __init__(self, name, kind, binary, args, env_spec):
        self.name, self.kind, self.binary, self.args, self.env_spec = name, kind, binary, args, env_spec

    @property
    def argv(self):
        return [self.binary] + self.args

    def command(self):
        port = free_port()
        args = [a for a in self.args if not a.startswith("--metrics-addr")]
        return [self.binary] + args + [f"--metrics-addr=127.0.0.1:{port}"]

    def environment(self, kubeconfig, home, pod_name, overrides=None):
        """The whole environment of the process: nothing of the harness's own (the ground's
        VAULT_TOKEN, AWS_* and the rest never reach a contender, as they never reach a Pod)."""
        env = {"PATH": POD_PATH, "HOSTNAME": pod_name, "HOME": home, "KUBECONFIG": kubeconfig}
        for e in self.env_spec:
            if "value" in e:
                env[e["name"]] = str(e["value"])
                continue
            field = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            if field == "metadata.name":
                env[e["name"]] = pod_name
            elif field == "metadata.namespace":
                env[e["name"]] = POD_NAMESPACE
            else:
                raise ValueError(f"{self.name}: the chart sets {e['name']} from {e.get('valueFrom')}, "
                                 "which the harness cannot provide")
        env.update(overrides or {})
        return env


POD_NAMESPACE = "bench-controller"


def leaks(child_env, harness_env, allowed):
    """What of the harness's environment reached a child: names outside `allowed`, and any name
    whose value is the harness's own except KUBECONFIG (the one thing shared on purpose)."""
    out = sorted(k for k in child_env if k not in allowed)
    out += sorted(k for k, v in child_env.items()
                  if k in allowed and k != "KUBECONFIG" and k in harness_env and harness_env[k] == v
                  and k not in out)
    return out


def render_container(chart, values, release="bench"):
    """The first container of the chart's controller Deployment, as `helm template` renders it
    with `values` (a dict, given as a values file): its args and env."""
    with tempfile.TemporaryDirectory(prefix="bench-chart-") as d:
        vf = os.path.join(d, "values.yaml")
        with open(vf, "w") as f:
            yaml.safe_dump(values, f)
        out = subprocess.run([os.environ.get("HELM", "helm"), "template", release, chart, "-f", vf,
                              "--namespace", POD_NAMESPACE, "--show-only", "templates/deployment.yaml"],
                             check=True, capture_output=True, text=True).stdout
    deployments = [d for d in yaml.safe_load_all(out) if d and d.get("kind") == "Deployment"]
    if len(deployments) != 1:
        raise RuntimeError(f"{chart}: expected one Deployment in templates/deployment.yaml, got {len(deployments)}")
    container = deployments[0]["spec"]["template"]["spec"]["containers"][0]
    return container.get("args") or [], container.get("env") or []


def contenders(eso_bin, eso_chart, ampoule_bin, ampoule_chart, only=None):
    """ESO with its chart's defaults, ESO tuned through the chart's values, and Ampoule with its
    chart's defaults. The chart's first arg for Ampoule is the subcommand (`run`)."""
    tuned = {"concurrent": 50, "extraArgs": {"client-qps": 1000, "client-burst": 2000}}
    all_ = [
        Contender("ESO default", "eso", eso_bin, *render_container(eso_chart, {})),
        Contender("ESO tuned", "eso", eso_bin, *render_container(eso_chart, tuned)),
        Contender("Ampoule", "ampoule", ampoule_bin, *render_container(ampoule_chart, {})),
    ]
    # AMPOULE_BASELINE_BIN: another build of Ampoule (e.g. the commit before a change) measured
    # in the same run, with the same chart args, for a before/after comparison.
    baseline = os.environ.get("AMPOULE_BASELINE_BIN")
    if baseline:
        all_.insert(2, Contender("Ampoule before", "ampoule", baseline, *render_container(ampoule_chart, {})))
    if only:
        keep = {o.strip().lower() for o in only.split(",")}
        all_ = [c for c in all_ if c.name.lower() in keep or c.kind in keep]
    return all_


def environ_of(pid):
    """A running process's environment, from /proc (None once it has exited)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if item)


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
        # An empty HOME (nothing of this machine's ~/.aws, ~/.vault-token or ~/.kube), as a new
        # container has.
        self.home = tempfile.mkdtemp(prefix="bench-home-")
        overrides = {}
        self.cache = None
        if contender.kind == "ampoule":
            # An empty module cache, as a new pod has (the chart mounts an emptyDir there): every
            # start compiles the components.
            self.cache = tempfile.mkdtemp(prefix="bench-ampoule-cache-")
            overrides["AMPOULE_CACHE_DIR"] = self.cache
        slug = contender.name.lower().replace(" ", "-")
        env = contender.environment(os.environ["KUBECONFIG"], self.home, f"{slug}-0", overrides)
        self.proc = subprocess.Popen(contender.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self.pid = self.proc.pid
        self.rss_peak_sampled = 0
        self.children_peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()
        # Popen returns once the child has exec'd: /proc shows the environment it runs with.
        seen = environ_of(self.pid)
        leaked = leaks(seen, os.environ, set(env)) if seen is not None else []
        if leaked:
            self.stop()
            raise SystemExit(f"{contender.name} was started with the harness's {leaked}: stopping")
        self.env_names = sorted(env)

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
        for d in (self.cache, self.home):
            if d:
                shutil.rmtree(d, ignore_errors=True)


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
