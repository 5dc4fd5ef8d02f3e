#!/usr/bin/env bash
# Builds crane (go-containerregistry's command-line tool) from its Go module into
# $BIN_CACHE/crane-<version>/ unless already there, and prints the binary's path. The ground uses
# it to assemble and push container images without a Docker engine (tests/image/build, the node's
# pause image). Cold: about 30 s on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
CRANE_VERSION=${CRANE_VERSION:-0.22.1}
CGO_ENABLED=0 go_install_cached crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane
