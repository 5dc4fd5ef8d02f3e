"""Machine facts, the markdown table, the JSON, and docs/benchmarks.md."""

import json
import os
import platform
import subprocess

BEGIN, END = "<!-- bench:begin (written by tests/bench/compare) -->", "<!-- bench:end -->"


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
                "", "| contender | seconds | × floor | ES/s | OpenBao requests | peak RSS MiB | CPU s | synced |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in s1:
            x = r["seconds"] / floor["seconds"] if r["seconds"] and floor.get("seconds") else None
            out.append(f"| {r['contender']} | {n(r['seconds'])} | {n(x)} | {n(r['es_per_s'], 0)} | "
                       f"{r['bao_requests']} | {n(r['peak_rss_mib'])} | {n(r['cpu_s'])} | {r['synced']}/{r['of']} |")
        out.append("")
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
    if floor:
        out.append(f"**Floor** — the ground apiserver accepted {floor['secrets']} Secret creates from one client "
                   f"({floor['workers']} parallel connections) in {n(floor['seconds'], 2)} s "
                   f"({n(floor['per_s'], 0)}/s).")
        out.append("")
    return "\n".join(out)


def facts(data):
    m = data["machine"]
    return (f"Run {data['date']} · {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB · "
            f"load average before {data['load_before']}, after {data['load_after']} · "
            f"ESO v{data['eso_version']} · Ampoule {data['ampoule_rev']} · {data['duration_s'] / 60:.0f} min")


def write_doc(path, data):
    body = "\n".join([BEGIN, "", facts(data), "", table(data), "```json", json.dumps(data, indent=1), "```", "", END])
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = "# Benchmarks: Ampoule vs External Secrets Operator\n\n" + body + "\n"
    with open(path, "w") as f:
        f.write(text)
