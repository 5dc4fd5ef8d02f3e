#!/usr/bin/env bash
# Builds what the ground's node runs, unless cached under $BIN_CACHE: kubelet and kube-scheduler,
# containerd and its runc shim, runc, the CNI plugins (all from the Go module proxy, through
# build-go.sh), the pause binary (k8s.io/kubernetes' build/pause/linux/pause.c, static) and its
# image layer. Installs the Debian packages the cgo builds need when they are missing.
# Cold: about 10-15 min on 2 cores (kubelet is most of it; cheaper once kube-apiserver is built).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

# runc's seccomp support links libseccomp; pause is linked statically against glibc (libc6-dev).
missing=()
[[ -f /usr/include/seccomp.h ]] || missing+=(libseccomp-dev)
[[ -f /usr/lib/x86_64-linux-gnu/libc.a || -f /usr/lib/$(gcc -dumpmachine 2>/dev/null)/libc.a ]] || missing+=(libc6-dev)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing Debian ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # An apt list older than the packages' versions finds nothing: update once, then retry.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

"$here/build-go.sh" node containerd runc cni

# pause: the sandbox image's only binary, from the Kubernetes module the kube builds downloaded.
# Its layer is a tar with fixed owner, mode and mtime, so the image digest is the same every time.
pause_built() { [[ -x $PAUSE_DIR/pause && -f $PAUSE_DIR/layer.tar ]]; }
build_pause() {
  pause_built && return
  local src out=$PAUSE_DIR
  log "building pause $PAUSE_VERSION (gcc -static)"
  src=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
  rm -rf "$out.tmp"; mkdir -p "$out.tmp/root"
  # As build/pause/Makefile's CFLAGS (its VERSION names the git revision; ours says "ground").
  nice gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-ground" \
    -o "$out.tmp/root/pause" "$src/build/pause/linux/pause.c"
  strip "$out.tmp/root/pause"
  one_file_layer "$out.tmp" pause
  rm -rf "$out"; mv "$out.tmp" "$out"
}
pause_built || locked pause build_pause
