#!/usr/bin/env bash
# Builds crane (go-containerregistry's command-line tool) from its Go module into
# $BIN_CACHE/crane-<version>/ unless already there, and prints the binary's path. The ground uses
# it to assemble and push container images without a Docker engine (tests/image/build, the node's
# pause image). Cold: about 30 s on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
CRANE_VERSION=${CRANE_VERSION:-0.22.1}
out=$BIN_CACHE/crane-$CRANE_VERSION
if [[ ! -x $out/crane ]]; then
  mkdir -p "$AMPOULE_CACHE/locks"
  exec 9>"$AMPOULE_CACHE/locks/crane"
  flock 9
  if [[ ! -x $out/crane ]]; then
    log "building crane v$CRANE_VERSION"
    mkdir -p "$out"
    GOBIN=$out.tmp CGO_ENABLED=0 nice go install -trimpath -ldflags "-s -w" \
      "github.com/google/go-containerregistry/cmd/crane@v$CRANE_VERSION" >&2
    mv "$out.tmp/crane" "$out/crane"
    rm -rf "$out.tmp"
  fi
fi
echo "$out/crane"
