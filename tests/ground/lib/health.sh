#!/usr/bin/env bash
# health.sh ENV_FILE: exit 0 when every server recorded by that ground is alive and answers its
# health endpoint; otherwise print what is wrong and exit 1.
set -uo pipefail
env_file=$1
[[ -f $env_file ]] || { echo "no $env_file"; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
bad=0
for name in etcd kube-apiserver kube-controller-manager openbao moto gcp-fake registry; do
  pidf=$GROUND_DIR/pids/$name.pid
  if [[ ! -f $pidf ]] || ! kill -0 "$(cat "$pidf")" 2>/dev/null; then echo "$name: not running"; bad=1; fi
done
# An env file written by an older version of `up` lacks newer variables: not healthy, restart.
for var in GCP_ENDPOINT PROMETHEUS FLUX_CRDS CRANE GROUND_NODE; do
  [[ -n ${!var:-} ]] || { echo "$var: missing from $env_file"; bad=1; }
done
for tool in kubectl helm bao; do
  [[ -x $GROUND_DIR/bin/$tool ]] || { echo "$tool: missing from $GROUND_DIR/bin"; bad=1; }
done
check() { local what=$1; shift; "$@" >/dev/null 2>&1 || { echo "$what: unhealthy"; bad=1; }; }
check etcd curl -fsS --max-time 3 "$ETCD_ENDPOINT/health"
check kube-apiserver curl -fsS --max-time 3 --cacert "$KUBE_CA_FILE" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_APISERVER/readyz"
check openbao curl -fsS --max-time 3 "$VAULT_ADDR/v1/sys/health"
check moto curl -fsS --max-time 3 "$AWS_ENDPOINT_URL/moto-api/"
check gcp-fake curl -fsS --max-time 3 "${GCP_ENDPOINT:-http://gcp-endpoint-missing.invalid}/fake/health"
check registry curl -fsS --max-time 3 "http://$OCI_REGISTRY/v2/"
# The node (unless started with GROUND_NODE=0): its servers run and the Node is Ready.
if [[ -n ${GROUND_NODE:-} && $GROUND_NODE != 0 ]]; then
  for name in containerd kubelet kube-scheduler; do
    pidf=$GROUND_DIR/pids/$name.pid
    if [[ ! -f $pidf ]] || ! kill -0 "$(cat "$pidf")" 2>/dev/null; then echo "$name: not running"; bad=1; fi
  done
  ready=$("$GROUND_DIR/bin/kubectl" --request-timeout=3s get node "$GROUND_NODE" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
  [[ $ready == True ]] || { echo "node $GROUND_NODE: not Ready"; bad=1; }
fi
exit $bad
