#!/usr/bin/env bash
# Builds the node's test program (tests/ground/node/probe, static Go, standard library only) and its
# image layer into $BIN_CACHE/probe-<hash of its sources and the Go version>/ unless already there,
# and prints that folder: it holds `probe` and `layer.tar` (fixed owner, mode and mtime, so the
# image crane assembles from it has the same digest every time). A few seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
src=$(cd "$here/../node/probe" && pwd)
key=$( (cat "$src/go.mod" "$src/main.go"; go version) | sha256sum | cut -c1-12)
out=$BIN_CACHE/probe-$key
probe_built() { [[ -x $out/probe && -f $out/layer.tar ]]; }
build_probe() {
  probe_built && return
  log "building the node's probe program ($src)"
  rm -rf "$out.tmp"; mkdir -p "$out.tmp/root"
  (cd "$src" && CGO_ENABLED=0 nice go build -trimpath -ldflags "-s -w -buildid=" -o "$out.tmp/root/probe" .)
  one_file_layer "$out.tmp" probe
  rm -rf "$out"; mv "$out.tmp" "$out"
}
probe_built || locked probe build_probe
echo "$out"
