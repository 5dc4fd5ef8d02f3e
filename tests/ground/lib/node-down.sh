#!/usr/bin/env bash
# node-down.sh: stops the node of the ground in $GROUND_DIR (tests/ground/lib/node.sh) and leaves
# nothing behind, also after a crash: called by tests/ground/down before the other servers stop.
#   1. with the apiserver and kubelet alive: kube-scheduler stops (nothing new is bound), then the
#      Pods on the node are deleted and kubelet stops their containers (else shims survive);
#   2. kubelet, then containerd, stop by their recorded PIDs;
#   3. what is left (a crashed run): runc force-deletes the containers recorded in this node's runc
#      root; the shims whose sockets containerd's task state names are killed, the sockets removed;
#   4. every mount under the node folder is unmounted (kubelet bind-mounts its root dir onto
#      itself; token volumes, container rootfs, sandbox shm and netns mounts);
#   5. the machine-global paths: the /var/log/containers symlinks into this node's logs,
#      /var/lib/kubelet/device-plugins, /run/containerd/s, empty kubepods cgroups, and the
#      sysctls kubelet changed (restored to the values saved at start);
#   6. the node folder is removed.
# Processes are only ever signalled by recorded PID, after checking the PID is still ours.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/node.sh"
GROUND_DIR=${GROUND_DIR:?}
NODE_DIR=$GROUND_DIR/node
pids=$GROUND_DIR/pids
[[ -d $NODE_DIR || -f $pids/kubelet.pid || -f $pids/containerd.pid || -f $pids/kube-scheduler.pid ]] || exit 0
cd_state=$NODE_DIR/containerd/state
kubectl=$GROUND_DIR/bin/kubectl

# ours PID: the process is alive and its command line names this node's folder (PIDs recorded
# by a run before a reboot may belong to anything by now).
ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$NODE_DIR"; }
alive() { [[ -f $pids/$1.pid ]] && ours "$(cat "$pids/$1.pid")"; }
stop() {  # stop NAME: TERM, up to 10 s, then KILL
  local f=$pids/$1.pid pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

# 1. Pods first, while kubelet can still stop them gracefully.
stop kube-scheduler
if alive kubelet && [[ -x $kubectl && -f $NODE_DIR/kubeconfig ]] \
  && "$kubectl" --kubeconfig="$NODE_DIR/kubeconfig" --request-timeout=5s get node "$NODE_NAME" >/dev/null 2>&1; then
  "$kubectl" --kubeconfig="$NODE_DIR/kubeconfig" delete pods --all-namespaces \
    --field-selector "spec.nodeName=$NODE_NAME" --wait=true --timeout=60s >/dev/null 2>&1 \
    || echo "[ground] warning: not every Pod on $NODE_NAME was deleted in 60s; forcing" >&2
fi

# 2. kubelet, containerd.
stop kubelet
stop containerd

# 3. Leftovers of a crash: containers (runc's state under this node's runc root), then shims.
if [[ -x $RUNC_DIR/runc && -d $NODE_DIR/containerd/runc ]]; then
  for root in "$NODE_DIR"/containerd/runc/*/; do
    [[ -d $root ]] || continue
    for id in $("$RUNC_DIR/runc" --root "$root" list -q 2>/dev/null); do
      "$RUNC_DIR/runc" --root "$root" delete --force "$id" >/dev/null 2>&1 \
        || echo "[ground] warning: runc could not delete container $id" >&2
    done
  done
fi
# containerd 2 records no shim PID: each task bundle's bootstrap.json names its shim's socket
# (in /run/containerd/s, hard-coded), and the process listening on that socket is the shim.
for bundle in "$cd_state"/io.containerd.runtime.v2.task/*/*/; do
  [[ -f $bundle/bootstrap.json ]] || continue
  sock=$(grep -o '"address":"unix://[^"]*"' "$bundle/bootstrap.json" | sed 's#.*unix://##; s#"$##')
  [[ $sock == /run/containerd/s/* ]] || continue
  for pid in $(ss -xlpn 2>/dev/null | awk -v s="$sock" '$5 == s' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    ours "$pid" || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  rm -f "$sock"
done

# 4. Mounts, deepest first; kubelet's root dir may be mounted more than once on itself.
for _ in 1 2 3 4 5; do
  mapfile -t mounts < <(node_mounts "$NODE_DIR" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
  [[ ${#mounts[@]} -gt 0 ]] || break
  for m in "${mounts[@]}"; do
    m=$(printf '%b' "${m//\\/\\0}")   # mountinfo escapes spaces etc. as \040
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
done
left=$(node_mounts "$NODE_DIR")
[[ -z $left ]] || echo "[ground] warning: still mounted under $NODE_DIR: $left" >&2

# 5. Machine-global paths kubelet and containerd write to (only this node's entries).
if [[ -d /var/log/containers ]]; then
  for l in /var/log/containers/*; do
    [[ -L $l && $(readlink "$l") == "$NODE_DIR"/* ]] && rm -f "$l"
  done
  rmdir /var/log/containers 2>/dev/null
fi
# kubelet's device-plugin socket and checkpoint (node.sh refused to start beside another kubelet).
rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null
rmdir /run/containerd/s /run/containerd 2>/dev/null
# Pod cgroups kubelet created (cgroupfs driver) in every hierarchy: empty ones only.
for top in /sys/fs/cgroup/*/kubepods; do
  [[ -d $top ]] && find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
done
if [[ -f $NODE_DIR/sysctl.saved ]]; then
  while read -r key value; do
    [[ -n $key && $(sysctl -n "$key" 2>/dev/null) != "$value" ]] && sysctl -q -w "$key=$value" >/dev/null
  done <"$NODE_DIR/sysctl.saved"
fi

# 6. The node's folder (not while something is still mounted in it).
if [[ -z $left ]]; then
  rm -rf "$NODE_DIR"
else
  echo "[ground] warning: $NODE_DIR kept (mounts left)" >&2
fi
exit 0
