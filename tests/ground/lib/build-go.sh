#!/usr/bin/env bash
# Builds the Go binaries of the ground (kube-apiserver, kube-controller-manager, kubectl, etcd,
# helm, prometheus; for the node: kubelet, kube-scheduler, containerd, runc, CNI plugins) from the
# Go module proxy into $BIN_CACHE/<name>-<version>/, unless already there.
# Usage: build-go.sh [kube|etcd|helm|prometheus|flux|node|containerd|runc|cni]...
# (no argument: all but the node's: node, containerd, runc, cni)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

# kube_wrapper DIR: a fresh wrapper module in DIR requiring k8s.io/kubernetes@v$K8S_VERSION, with
# its staging modules replaced by their published tags; sets kube_ld to the version ldflags.
kube_wrapper() {
  local work=$1 minor=${K8S_VERSION#1.} mod
  minor=${minor%%.*}
  rm -rf "$work"; mkdir -p "$work"
  (
    cd "$work"
    go mod init local/kas >/dev/null 2>&1
    mod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
    # Every staging module is required at v0.0.0: replace each with its published tag.
    # k8s.io/utils and kube-openapi are pseudo-versions and must not be replaced.
    grep -E '^\s*k8s\.io/[a-z0-9-]+ v0\.0\.0\s*$' "$mod" \
      | awk -v v="v0.${K8S_VERSION#1.}" '{print "replace " $1 " => " $1 " " v}' >> go.mod
    go get "k8s.io/kubernetes@v$K8S_VERSION"
  )
  kube_ld="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  kube_ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  kube_ld+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

build_kube() {
  local out=$KUBE_DIR
  if [[ -x $out/kube-apiserver && -x $out/kube-controller-manager && -x $out/kubectl ]]; then return; fi
  log "building Kubernetes v$K8S_VERSION (kube-apiserver, kube-controller-manager, kubectl); cold this takes ~8 min"
  local work=$AMPOULE_CACHE/src/kube-$K8S_VERSION kube_ld
  kube_wrapper "$work"
  mkdir -p "$out"
  (
    cd "$work"
    for cmd in kube-apiserver kube-controller-manager kubectl; do
      go build -trimpath -ldflags "$kube_ld" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
      mv "$out/$cmd.tmp" "$out/$cmd"
    done
  )
}

# ---------------------------------------------------------------- the node (tests/ground/lib/node.sh)
# Not built by default: build-node.sh asks for them (`up` runs it unless GROUND_NODE=0).

# kubelet and kube-scheduler: the same wrapper module and GOCACHE as build_kube (cheap after it),
# in a work folder and a bin folder of their own.
build_node() { node_built || locked kube-node build_node_now; }
node_built() { [[ -x $KUBE_NODE_DIR/kubelet && -x $KUBE_NODE_DIR/kube-scheduler ]]; }
build_node_now() {
  node_built && return
  local out=$KUBE_NODE_DIR work=$AMPOULE_CACHE/src/kube-node-$K8S_VERSION kube_ld
  log "building Kubernetes v$K8S_VERSION node binaries (kubelet, kube-scheduler)"
  kube_wrapper "$work"
  mkdir -p "$out"
  (
    cd "$work"
    for cmd in kubelet kube-scheduler; do
      nice go build -trimpath -ldflags "$kube_ld" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
      mv "$out/$cmd.tmp" "$out/$cmd"
    done
  )
}

# containerd (cgo, without the btrfs/devmapper/zfs snapshotters) and its runc shim (static).
build_containerd() { containerd_built || locked containerd build_containerd_now; }
containerd_built() { [[ -x $CONTAINERD_DIR/containerd && -x $CONTAINERD_DIR/containerd-shim-runc-v2 ]]; }
build_containerd_now() {
  containerd_built && return
  local out=$CONTAINERD_DIR work=$AMPOULE_CACHE/src/containerd-$CONTAINERD_VERSION
  local m=github.com/containerd/containerd/v2
  log "building containerd v$CONTAINERD_VERSION"
  rm -rf "$work"; mkdir -p "$work" "$out"
  (
    cd "$work"
    go mod init local/containerd >/dev/null 2>&1
    go get "$m@v$CONTAINERD_VERSION"
    local ld="-s -w -X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Package=$m"
    CGO_ENABLED=1 nice go build -trimpath -tags "no_btrfs no_devmapper no_zfs" -ldflags "$ld" \
      -o "$out/containerd.tmp" "$m/cmd/containerd"
    CGO_ENABLED=0 nice go build -trimpath -ldflags "$ld" -o "$out/containerd-shim-runc-v2.tmp" \
      "$m/cmd/containerd-shim-runc-v2"
    mv "$out/containerd.tmp" "$out/containerd"
    mv "$out/containerd-shim-runc-v2.tmp" "$out/containerd-shim-runc-v2"
  )
}

# runc with seccomp (cgo against libseccomp-dev, which node.sh installs when missing).
build_runc() { [[ -x $RUNC_DIR/runc ]] || locked runc build_runc_now; }
build_runc_now() {
  [[ -x $RUNC_DIR/runc ]] && return
  local out=$RUNC_DIR work=$AMPOULE_CACHE/src/runc-$RUNC_VERSION
  log "building runc v$RUNC_VERSION"
  rm -rf "$work"; mkdir -p "$work" "$out"
  (
    cd "$work"
    go mod init local/runc >/dev/null 2>&1
    go get "github.com/opencontainers/runc@v$RUNC_VERSION"
    CGO_ENABLED=1 nice go build -trimpath -tags seccomp -ldflags "-s -w -X main.gitCommit=v$RUNC_VERSION" \
      -o "$out/runc.tmp" github.com/opencontainers/runc
    mv "$out/runc.tmp" "$out/runc"
  )
}

# The CNI plugins the node's network conf uses: loopback, tap (each Pod sandbox gets an isolated
# tap device: the node is Ready and nothing leaves the machine), host-local IPAM.
CNI_PLUGINS=(main/loopback main/tap ipam/host-local)
build_cni() { cni_built || locked cni build_cni_now; }
cni_built() { local p; for p in "${CNI_PLUGINS[@]}"; do [[ -x $CNI_DIR/${p#*/} ]] || return 1; done; }
build_cni_now() {
  cni_built && return
  local out=$CNI_DIR work=$AMPOULE_CACHE/src/cni-plugins-$CNI_PLUGINS_VERSION p
  log "building CNI plugins v$CNI_PLUGINS_VERSION (${CNI_PLUGINS[*]})"
  rm -rf "$work"; mkdir -p "$work" "$out"
  (
    cd "$work"
    go mod init local/cni >/dev/null 2>&1
    go get "github.com/containernetworking/plugins@v$CNI_PLUGINS_VERSION"
    for p in "${CNI_PLUGINS[@]}"; do
      CGO_ENABLED=0 nice go build -trimpath \
        -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$CNI_PLUGINS_VERSION" \
        -o "$out/${p#*/}.tmp" "github.com/containernetworking/plugins/plugins/$p"
      mv "$out/${p#*/}.tmp" "$out/${p#*/}"
    done
  )
}

build_etcd() {
  local out=$ETCD_DIR
  if [[ -x $out/etcd ]]; then return; fi
  log "building etcd v$ETCD_VERSION"
  local work=$AMPOULE_CACHE/src/etcd-$ETCD_VERSION
  rm -rf "$work"; mkdir -p "$work" "$out"
  (
    cd "$work"
    go mod init local/etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$out/etcd.tmp" "$out/etcd"
  )
}

build_helm() {
  local out=$HELM_DIR
  if [[ -x $out/helm ]]; then return; fi
  log "building helm v$HELM_VERSION"
  mkdir -p "$out"
  local mod minor
  mod=$(go mod download -json "helm.sh/helm/v3@v$HELM_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  # As Helm's Makefile: the default Kubernetes version (for `helm template`/`lint` without a
  # cluster) follows the client-go it is built with (v0.N.x -> 1.N).
  minor=$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$mod")
  [[ -n $minor ]] || die "cannot read the client-go version of helm $HELM_VERSION"
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ld+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  GOBIN=$out go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

build_prometheus() {
  local out=$PROMETHEUS_DIR
  if [[ -x $out/prometheus ]]; then return; fi
  log "building prometheus (module v$PROMETHEUS_MODULE_VERSION with $PROMETHEUS_GO); cold this takes ~7 min"
  local work=$AMPOULE_CACHE/src/prometheus-$PROMETHEUS_MODULE_VERSION
  rm -rf "$work"; mkdir -p "$work" "$out"
  (
    cd "$work"
    export GOTOOLCHAIN=$PROMETHEUS_GO
    go mod init local/prometheus >/dev/null 2>&1
    go get "github.com/prometheus/prometheus@v$PROMETHEUS_MODULE_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$out/prometheus.tmp" github.com/prometheus/prometheus/cmd/prometheus
    mv "$out/prometheus.tmp" "$out/prometheus"
  )
}

# Flux's controllers cannot be built from the module proxy, but its API modules can: their CRDs
# are generated with controller-gen so Flux objects are validated by a real apiserver.
build_flux() {
  local out=$FLUX_CRDS_DIR
  if [[ -f $out/done ]]; then return; fi
  log "generating Flux CRDs (helm-controller/api v$FLUX_HELM_API_VERSION, source-controller/api v$FLUX_SOURCE_API_VERSION)"
  local work=$AMPOULE_CACHE/src/flux-crds
  rm -rf "$work" "$out"; mkdir -p "$work" "$out"
  (
    cd "$work"
    export GOTOOLCHAIN=$PROMETHEUS_GO
    go mod init local/fluxcrds >/dev/null 2>&1
    local kustomize=""
    go get "sigs.k8s.io/controller-tools@v$CONTROLLER_TOOLS_VERSION" \
      "github.com/fluxcd/helm-controller/api@v$FLUX_HELM_API_VERSION" \
      "github.com/fluxcd/source-controller/api@v$FLUX_SOURCE_API_VERSION"
    # The Kustomization API is optional: used when the module proxy serves a version that resolves.
    if go get "github.com/fluxcd/kustomize-controller/api@v$FLUX_KUSTOMIZE_API_VERSION" >/dev/null 2>&1; then
      kustomize="paths=github.com/fluxcd/kustomize-controller/api/v1"
    fi
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "github.com/fluxcd/source-controller/api/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
GO
    go build -o controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
    # shellcheck disable=SC2086
    ./controller-gen crd paths=github.com/fluxcd/helm-controller/api/v2 \
      paths=github.com/fluxcd/source-controller/api/v1 paths=github.com/fluxcd/source-controller/api/v1beta2 \
      $kustomize output:crd:dir="$out"
    touch "$out/done"
  )
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd helm kube prometheus flux)
for t in "${targets[@]}"; do "build_$t"; done
