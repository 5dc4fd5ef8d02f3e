#!/usr/bin/env bash
# Builds cosign from its Go module (github.com/sigstore/cosign/v2) into $BIN_CACHE/cosign-<version>/
# unless already there, and prints the binary's path. Tests use it to sign components the way users
# do (`cosign sign --key … --tlog-upload=false` against the ground's registry), which keeps
# Ampoule's verifier honest about cosign's format. Cold: a few minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
COSIGN_VERSION=${COSIGN_VERSION:-2.6.5}
go_install_cached cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v2/cmd/cosign
