#!/usr/bin/env bash
# Builds the peer of the benchmark, External Secrets Operator, from its Go module into
# $BIN_CACHE/eso-<version>/ (with a copy of its CRDs), unless already there. Uses the ground's Go
# caches (tests/ground/lib/common.sh). Prints the binary's folder on stdout.
#   build-eso.sh [VERSION]      default: ESO_VERSION below
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../ground/lib/common.sh"

ESO_VERSION=${1:-${ESO_VERSION:-0.16.2}}
ESO_MODULE=github.com/external-secrets/external-secrets
out=$BIN_CACHE/eso-$ESO_VERSION
if [[ -x $out/external-secrets && -f $out/crds/done ]]; then echo "$out"; exit 0; fi

log "building External Secrets Operator v$ESO_VERSION from its Go module; cold this takes ~10 min"
work=$AMPOULE_CACHE/src/eso-$ESO_VERSION
rm -rf "$work" "$out"; mkdir -p "$work" "$out/crds"
(
  cd "$work"
  go mod init local/eso >/dev/null 2>&1
  # A module's replace directives do not apply to its dependents: copy ESO's own ones (sprig fork).
  gomod=$(go mod download -json "$ESO_MODULE@v$ESO_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  grep -E '^replace ' "$gomod" >> go.mod || true
  go get "$ESO_MODULE@v$ESO_VERSION"
  nice -n 10 go build -trimpath -ldflags "-s -w" -o "$out/external-secrets.tmp" "$ESO_MODULE"
  mv "$out/external-secrets.tmp" "$out/external-secrets"
  src=$(go list -m -f '{{.Dir}}' "$ESO_MODULE")
  cp "$src"/config/crds/bases/*external-secrets.io_*.yaml "$out/crds/"
  chmod u+w "$out"/crds/*.yaml
  touch "$out/crds/done"
) >&2
echo "$out"
