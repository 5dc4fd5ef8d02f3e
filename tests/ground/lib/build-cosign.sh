#!/usr/bin/env bash
# Builds cosign from its Go module (github.com/sigstore/cosign/v2) into $BIN_CACHE/cosign-<version>/
# unless already there, and prints the binary's path. Tests use it to sign components the way users
# do (`cosign sign --key … --tlog-upload=false` against the ground's registry), which keeps
# Ampoule's verifier honest about cosign's format. Cold: a few minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
COSIGN_VERSION=${COSIGN_VERSION:-2.6.5}
out=$BIN_CACHE/cosign-$COSIGN_VERSION
if [[ ! -x $out/cosign ]]; then
  mkdir -p "$AMPOULE_CACHE/locks"
  exec 9>"$AMPOULE_CACHE/locks/cosign"
  flock 9
  if [[ ! -x $out/cosign ]]; then
    log "building cosign v$COSIGN_VERSION"
    mkdir -p "$out"
    GOBIN=$out.tmp nice go install -trimpath -ldflags "-s -w" \
      "github.com/sigstore/cosign/v2/cmd/cosign@v$COSIGN_VERSION" >&2
    mv "$out.tmp/cosign" "$out/cosign"
    rm -rf "$out.tmp"
  fi
fi
echo "$out/cosign"
