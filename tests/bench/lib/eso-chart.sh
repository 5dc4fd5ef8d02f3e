#!/usr/bin/env bash
# Copies External Secrets Operator's Helm chart out of its Go module (the same v$ESO_VERSION the
# benchmark builds) into $BIN_CACHE/eso-chart-<version>/ unless already there, and prints that
# folder. The benchmark renders it with `helm template` to start ESO with the args and env a Helm
# install of that chart gives its controller. The chart's one dependency (bitwarden-sdk-server,
# off by default) is not in the module, so it is dropped from the copy's Chart.yaml: `helm template`
# refuses a chart whose dependencies are missing even when they are disabled.
#   eso-chart.sh [VERSION]      default: ESO_VERSION, else 0.16.2
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../ground/lib/common.sh"

ESO_VERSION=${1:-${ESO_VERSION:-0.16.2}}
ESO_MODULE=github.com/external-secrets/external-secrets
out=$BIN_CACHE/eso-chart-$ESO_VERSION
if [[ -f $out/Chart.yaml ]]; then echo "$out"; exit 0; fi
dir=$(go mod download -json "$ESO_MODULE@v$ESO_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
[[ -f $dir/deploy/charts/external-secrets/Chart.yaml ]] || die "no chart in $ESO_MODULE@v$ESO_VERSION"
rm -rf "$out.tmp"; mkdir -p "$(dirname "$out")"
cp -r "$dir/deploy/charts/external-secrets" "$out.tmp"
chmod -R u+w "$out.tmp"
python3 - "$out.tmp/Chart.yaml" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
# The `dependencies:` block is the last top-level key of ESO's Chart.yaml; drop it and what it holds.
kept = re.sub(r"(?ms)^dependencies:\n(?:[ -].*\n?)*", "", text)
if kept == text:
    sys.exit("ESO's Chart.yaml has no dependencies block to drop: check the chart")
open(path, "w").write(kept)
PY
rm -f "$out.tmp/Chart.lock"
mv "$out.tmp" "$out"
echo "$out"
