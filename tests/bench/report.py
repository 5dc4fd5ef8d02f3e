"""Machine facts, the markdown table, the JSON, and docs/benchmarks.md."""

import json
import os
import platform
import subprocess

BEGIN, END = "<!-- bench:begin (written by tests/bench/compare) -->", "<!-- bench:end -->"
# Scenarios 1-4 and the scale scenarios 5-6 (a run of about an hour of its own) have a block each.
MAIN = (BEGIN, END)
SCALE = ("<!-- bench-scale:begin (written by tests/bench/compare --scenarios 5,6) -->", "<!-- bench-scale:end -->")


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def load():
    return [round(x, 2) for x in os.getloadavg()]


def git_rev(repo):
    try:
        rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--", "host"], capture_output=True,
                               text=True, check=True).stdout.strip()
        return rev + ("+dirty(host)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def n(v, digits=1, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        if v == float("inf"):
            return "∞"
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def table(data):
    rows = data["results"]
    floor = data.get("floor") or {}
    out = []
    s1 = [r for r in rows if r["scenario"] == "s1"]
    if s1:
        out += [f"**1. First sync** — {s1[0]['of']} ExternalSecrets applied at once, one SecretStore (OpenBao KV v2)",
                "", "| contender | seconds | × floor | ES/s | OpenBao requests | peak RSS MiB | CPU s | "
                "apiserver writes/ES | apiserver CPU s | synced |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in s1:
            x = r["seconds"] / floor["seconds"] if r["seconds"] and floor.get("seconds") else None
            out.append(f"| {r['contender']} | {n(r['seconds'])} | {n(x)} | {n(r['es_per_s'], 0)} | "
                       f"{r['bao_requests']} | {n(r['peak_rss_mib'])} | {n(r['cpu_s'])} | "
                       f"{n(r.get('writes_per_es'), 2)} | {n(r.get('server_cpu_s'))} | {r['synced']}/{r['of']} |")
        out.append("")
        out += requests_lines(s1)
        kids = [r for r in s1 + [r for r in rows if r["scenario"] == "s2"] if r.get("children_peak_mib")]
        if kids:
            out += ["Peak RSS counts the controller's whole process tree, sampled every 0.2 s (and the "
                    "process's own VmHWM when higher). Ampoule starts with an empty module cache, as a new pod "
                    "does, and compiles its components in a short-lived child process; that child's own peak was "
                    + ", ".join(f"{n(r['children_peak_mib'])} MiB ({r['scenario']})" for r in kids) + ".", ""]
    s2 = [r for r in rows if r["scenario"] == "s2"]
    if s2:
        first = {r["contender"]: r for r in s1}
        out += [f"**2. Scale memory** — {s2[0]['of']} ExternalSecrets + {data['sizes']['noise']} unrelated "
                f"{data['sizes']['noise_kb']} KB Secrets in the cluster", "",
                "| contender | peak RSS MiB | Δ vs scenario 1 MiB | RSS after sync MiB | seconds | synced |",
                "|---|---:|---:|---:|---:|---:|"]
        for r in s2:
            base = first.get(r["contender"])
            d = r["peak_rss_mib"] - base["peak_rss_mib"] if base else None
            out.append(f"| {r['contender']} | {n(r['peak_rss_mib'])} | {n(d)} | {n(r.get('rss_after_mib'))} | "
                       f"{n(r['seconds'])} | {r['synced']}/{r['of']} |")
        out.append("")
    s3 = [r for r in rows if r["scenario"] == "s3"]
    if s3:
        out += [f"**3. Latency under load** — {s3[0]['of']} ExternalSecrets refreshing every minute, then "
                f"{data['sizes']['s3_new']} new ones created at once: create → Secret", "",
                "| contender | p50 s | p99 s | max s | not synced | create call p99 s | apiserver p50/p99 s | "
                "first sync of the "
                f"{s3[0]['of']} s | OpenBao requests meanwhile | peak RSS MiB |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in s3:
            out.append(f"| {r['contender']} | {n(r['p50_s'], 2)} | {n(r['p99_s'], 2)} | {n(r['max_s'], 2)} | "
                       f"{r['new_not_synced']} | {n(r.get('create_call_p99_s'), 2)} | "
                       f"{n(r.get('server_p50_s'), 0)}/{n(r.get('server_p99_s'), 0)} | "
                       f"{n(r['base_sync_s'])} ({r['base_synced']}/{r['of']}) | "
                       f"{r['bao_requests_during']} | {n(r['peak_rss_mib'])} |")
        out.append("")
    s4 = [r for r in rows if r["scenario"] == "s4"]
    if s4:
        out += [f"**4. Shared keys** — {s4[0]['of']} ExternalSecrets reading {data['sizes']['s4_keys']} distinct "
                "keys, refreshInterval 1m", "",
                "| contender | OpenBao requests, first sync | OpenBao requests, next refresh window | window s | seconds | synced |",
                "|---|---:|---:|---:|---:|---:|"]
        for r in s4:
            out.append(f"| {r['contender']} | {r['bao_requests']} | {r['bao_requests_window']} | {r['window_s']} | "
                       f"{n(r['seconds'])} | {r['synced']}/{r['of']} |")
        out.append("")
    out += scale_tables(data)
    if floor:
        out.append(f"**Floor** — the ground apiserver accepted {floor['secrets']} Secret creates from one client "
                   f"({floor['workers']} parallel connections) in {n(floor['seconds'], 2)} s "
                   f"({n(floor['per_s'], 0)}/s).")
        out.append("")
    return "\n".join(out)


def requests_lines(rows):
    """The apiserver's requests of each row by verb and resource, one line per contender."""
    out = [f"- {r['contender']}: " + ", ".join(f"{k} {v}" for k, v in r["requests"].items())
           for r in rows if r.get("requests")]
    if out:
        out = ["Apiserver requests in the interval, from its `apiserver_request_total` (every client's: the "
               "harness's own creates, its watches and its status reads are in them; writes/ES leaves the "
               "harness's creates out):", ""] + out + [""]
    return out


def scale_tables(data):
    rows = data["results"]
    floors = data.get("scale_floors") or {}
    out = []
    sizes = data["sizes"]

    def first_sync(r):
        f = floors.get(str(r["of"])) or {}
        x = r["seconds"] / f["seconds"] if r["seconds"] and f.get("seconds") else None
        return (f"| {r['contender']} | {n(r['seconds'])} | {n(x)} | {n(r['es_per_s'], 0)} | {r['bao_requests']} | "
                f"{n(r.get('writes_per_es'), 2)} | {n(r.get('server_cpu_s'))} | {n(r['peak_rss_mib'])} | "
                f"{n(r.get('rss_after_mib'))} | {n(r['cpu_s'])} | {r['synced']}/{r['of']} |")
    head = ["| contender | seconds | × floor | ES/s | OpenBao requests | apiserver writes/ES | apiserver CPU s | "
            "peak RSS MiB | RSS after MiB | CPU s | synced |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    s5 = [r for r in rows if r["scenario"] == "s5"]
    if s5:
        out += [f"**5. Scale** — {s5[0]['of']} ExternalSecrets across {s5[0].get('namespaces')} namespaces (a "
                f"SecretStore each) applied at once: first sync", ""] + head + [first_sync(r) for r in s5] + [""]
        out += requests_lines(s5)
        win = [r for r in s5 if r.get("window_s")]
        if win:
            out += [f"**5b. One refresh window** — the same {s5[0]['of']} at refreshInterval "
                    f"{sizes.get('s5_refresh_s')} s, nothing changed in OpenBao: each refreshes once", "",
                    "| contender | window s | OpenBao requests | apiserver writes | CPU s | CPU s per 1,000 refreshes | "
                    "apiserver CPU s | RSS MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
            for r in win:
                out.append(f"| {r['contender']} | {r['window_s']} | {r['bao_requests_window']} | {r['window_writes']} | "
                           f"{n(r['window_cpu_s'])} | {n(r.get('cpu_s_per_1000_refreshes'), 2)} | "
                           f"{n(r.get('window_server_cpu_s'))} | {n(r.get('window_rss_mib'))} |")
            out.append("")
            out += ["Apiserver requests in the window:", ""] + [
                f"- {r['contender']}: " + ", ".join(f"{k} {v}" for k, v in r["window_requests"].items())
                for r in win] + [""]
    s6 = [r for r in rows if r["scenario"] == "s6"]
    if s6:
        out += [f"**6. Scale, Ampoule alone** — {s6[0]['of']} ExternalSecrets across {s6[0].get('namespaces')} "
                "namespaces applied at once: first sync and memory", ""] + head + [first_sync(r) for r in s6] + [""]
        out += requests_lines(s6)
        for r in s6:
            base = next((b for b in s5 if b["contender"] == r["contender"]), None)
            if base and base.get("rss_after_mib") and r.get("rss_after_mib"):
                per = (r["of"] - base["of"]) / 1000
                out += [f"Memory slope of {r['contender']}: "
                        f"{n((r['rss_after_mib'] - base['rss_after_mib']) / per, 2)} MiB per 1,000 ExternalSecrets "
                        f"after the sync ({n(base['rss_after_mib'])} MiB at {base['of']}, {n(r['rss_after_mib'])} "
                        f"MiB at {r['of']}); peak {n((r['peak_rss_mib'] - base['peak_rss_mib']) / per, 2)} MiB per "
                        "1,000.", ""]
    for size, f in sorted(floors.items(), key=lambda kv: int(kv[0])):
        out.append(f"**Floor at {size}** — {f['secrets']} Secret creates across {f['namespaces']} namespaces "
                   f"({f['workers']} parallel connections) in {n(f['seconds'], 2)} s ({n(f['per_s'], 0)}/s).")
        out.append("")
    return out


def facts(data):
    m = data["machine"]
    return (f"Run {data['date']} · {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB · "
            f"load average before {data['load_before']}, after {data['load_after']} · "
            f"ESO v{data['eso_version']} · Ampoule {data['ampoule_rev']} · {data['duration_s'] / 60:.0f} min")


def write_doc(path, data, block=MAIN):
    begin, end = block
    body = "\n".join([begin, "", facts(data), "", table(data), "```json", json.dumps(data, indent=1), "```", "", end])
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    elif text:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    else:
        text = "# Benchmarks: Ampoule vs External Secrets Operator\n\n" + body + "\n"
    with open(path, "w") as f:
        f.write(text)
