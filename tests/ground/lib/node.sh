# shellcheck shell=bash disable=SC2034,SC2154  # sets variables for tests/ground/up and uses its $kubectl
# The ground's node, sourced by tests/ground/up (which defines start, fail, wait_for and $kubectl):
# containerd + runc + CNI, a kubelet registered as $NODE_NAME with the ground's apiserver, and
# kube-scheduler, so real Pods run. All state under $NODE_DIR ($GROUND_DIR/node); every server on
# 127.0.0.1. tests/ground/lib/node-down.sh undoes it, including what kubelet and containerd write
# outside that folder (see there). Only one node per machine: those paths are machine-global.
#
# Pods reach nothing but this machine: hostNetwork Pods use 127.0.0.1 (the apiserver is at
# KUBERNETES_SERVICE_HOST=127.0.0.1 and KUBERNETES_SERVICE_PORT=<its port>, set in the Pod spec:
# there is no kube-proxy), other Pods get an isolated tap device, image pulls of any registry but
# the ground's go to a closed loopback port, and Pods' resolv.conf names no server off the machine.

NODE_NAME=ground-node
# The sysctls kubelet sets at start (protectKernelDefaults: false); node-down.sh restores them.
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

# node_mounts DIR: the mount points at or under DIR (from /proc/self/mountinfo, octal escapes kept).
node_mounts() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo
}

# node_preflight: before `up` starts anything, refuse what would break the node.
node_preflight() {
  [[ -z $(node_mounts "$GROUND_DIR/node") ]] \
    || die "mounts are left under $GROUND_DIR/node (tests/ground/down could not remove them): $(node_mounts "$GROUND_DIR/node" | tr '\n' ' ')"
  # kubelet's device-plugin socket is machine-global: a live one means another node runs here.
  local dp=/var/lib/kubelet/device-plugins/kubelet.sock
  if [[ -S $dp ]] && python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(sys.argv[1])' "$dp" 2>/dev/null; then
    die "another kubelet runs on this machine ($dp answers): stop it, or start this ground with GROUND_NODE=0"
  fi
}

# node_up: needs GROUND_DIR, KUBECONFIG, API_PORT, REG_PORT, CRANE, PROBE_DIR, kubectl; sets
# NODE_DIR, KUBELET_PORT, NODE_PAUSE_IMAGE, NODE_PROBE_IMAGE.
node_up() {
  NODE_DIR=$GROUND_DIR/node
  local reg=127.0.0.1:$REG_PORT cd=$GROUND_DIR/node/containerd
  rm -rf "$NODE_DIR"
  mkdir -p "$cd/certs.d/$reg" "$cd/certs.d/_default" "$NODE_DIR/cni/net.d" "$NODE_DIR/kubelet/root" \
    "$NODE_DIR/kubelet/logs" "$NODE_DIR/kubelet/certs" "$NODE_DIR/kubelet/volume-plugins" "$NODE_DIR/markers"
  chmod 700 "$NODE_DIR"

  # ------------------------------------------------------------ images (crane, no Docker engine)
  NODE_PAUSE_IMAGE=$(node_push "$reg/ground/pause:$PAUSE_VERSION" "$PAUSE_DIR/layer.tar" /pause) \
    || fail registry "pushing the pause image with crane: $(cat "$NODE_DIR/crane.log")"
  NODE_PROBE_IMAGE=$(node_push "$reg/ground/probe:1" "$PROBE_DIR/layer.tar" /probe) \
    || fail registry "pushing the probe image with crane: $(cat "$NODE_DIR/crane.log")"

  # ------------------------------------------------------------ containerd
  cat >"$cd/certs.d/$reg/hosts.toml" <<EOF
server = "http://$reg"
[host."http://$reg"]
  capabilities = ["pull", "resolve"]
EOF
  # Every other registry: a loopback port nothing listens on, so a Pod naming a public image
  # fails to pull (connection refused) instead of reaching out.
  cat >"$cd/certs.d/_default/hosts.toml" <<'EOF'
server = "http://127.0.0.1:9"
EOF
  cat >"$NODE_DIR/cni/net.d/05-tap.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "ground",
  "plugins": [{"type": "tap", "ipam": {"type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
    "ranges": [[{"subnet": "198.18.0.0/24"}]]}}]
}
EOF
  cat >"$cd/config.toml" <<EOF
version = 3
root = "$cd/root"
state = "$cd/state"
[grpc]
  address = "$cd/containerd.sock"
[ttrpc]
  address = "$cd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.internal.v1.opt']
    path = "$cd/opt"
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "$reg/ground/pause:$PAUSE_VERSION"
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = "$cd/certs.d"
  [plugins.'io.containerd.cri.v1.runtime']
    # No CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below containerd's own.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "$RUNC_DIR/runc"
          Root = "$cd/runc"
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["$CNI_DIR"]
      conf_dir = "$NODE_DIR/cni/net.d"
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
EOF
  start containerd env PATH="$CONTAINERD_DIR:$PATH" "$CONTAINERD_DIR/containerd" --config "$cd/config.toml"
  wait_for containerd 60 grep -q 'containerd successfully booted' "$GROUND_DIR/logs/containerd.log"
  log "containerd $CONTAINERD_VERSION ($cd/containerd.sock)"

  # ------------------------------------------------------------ kubelet
  local sysctl_saved=$NODE_DIR/sysctl.saved k
  for k in "${NODE_SYSCTLS[@]}"; do echo "$k $(sysctl -n "$k")"; done >"$sysctl_saved"
  cp "$KUBECONFIG" "$NODE_DIR/kubeconfig"; chmod 600 "$NODE_DIR/kubeconfig"
  echo "nameserver 127.0.0.1" >"$NODE_DIR/kubelet/resolv.conf"
  KUBELET_PORT=$(free_port)
  local healthz_port
  healthz_port=$(free_port)
  cat >"$NODE_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
# The apiserver has no client certificate for the kubelet: anonymous, on loopback only.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
rotateCertificates: false
serverTLSBootstrap: false
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$cd/containerd.sock
podLogsDir: $NODE_DIR/kubelet/logs
volumePluginDir: $NODE_DIR/kubelet/volume-plugins
resolvConf: $NODE_DIR/kubelet/resolv.conf
evictionHard: {}
imageGCHighThresholdPercent: 100
maxPods: 50
nodeStatusUpdateFrequency: 10s
EOF
  # --cloud-provider=external: kubelet refuses a loopback node IP, but keeps the addresses it
  # finds on the Node; the fix-up below sets InternalIP 127.0.0.1 (kubectl logs/exec use it).
  start kubelet "$KUBE_NODE_DIR/kubelet" --config="$NODE_DIR/kubelet/config.yaml" \
    --kubeconfig="$NODE_DIR/kubeconfig" --root-dir="$NODE_DIR/kubelet/root" \
    --cert-dir="$NODE_DIR/kubelet/certs" --hostname-override="$NODE_NAME" --cloud-provider=external -v=2
  wait_for kubelet 120 "$kubectl" get node "$NODE_NAME"
  "$kubectl" patch node "$NODE_NAME" --subresource=status --type=merge \
    -p '{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}]}}' >/dev/null \
    || fail kubelet "patching the node's address"
  if "$kubectl" get node "$NODE_NAME" -o jsonpath='{.spec.taints[*].key}' | grep -qw node.cloudprovider.kubernetes.io/uninitialized; then
    "$kubectl" taint node "$NODE_NAME" node.cloudprovider.kubernetes.io/uninitialized- >/dev/null \
      || fail kubelet "removing the uninitialized taint"
  fi
  wait_for kubelet 30 curl -fsS "http://127.0.0.1:$healthz_port/healthz"

  # ------------------------------------------------------------ kube-scheduler
  start kube-scheduler "$KUBE_NODE_DIR/kube-scheduler" --kubeconfig="$NODE_DIR/kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
  wait_for kubelet 120 node_ready
  wait_for kube-scheduler 30 grep -q 'Starting Kubernetes Scheduler' "$GROUND_DIR/logs/kube-scheduler.log"
  log "node $NODE_NAME Ready (kubelet on 127.0.0.1:$KUBELET_PORT), kube-scheduler running"
}

# node_push REF LAYER ENTRYPOINT: a one-layer linux/amd64 image pushed as REF; prints REF@digest.
# The layer tars have fixed owners and mtimes and crane writes no timestamps: same digest each time.
node_push() {
  "$CRANE" append --oci-empty-base -f "$2" -t "$1" >/dev/null 2>>"$NODE_DIR/crane.log" || return 1
  "$CRANE" mutate --set-platform linux/amd64 --entrypoint "$3" -t "$1" "$1" 2>>"$NODE_DIR/crane.log"
}

node_ready() {
  [[ $("$kubectl" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}
