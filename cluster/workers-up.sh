#!/usr/bin/env bash
# Start N workers w1..wN (`watcher run --etcd ...`) against the cluster of etcd-up.sh. Each worker
# reaches etcd through its own TCP proxy (cluster/tcp-proxy.mjs) so fault.sh can cut it alone.
# Worker wI serves its status on 127.0.0.1:(WORKER_BASE_PORT+I-1) = 9464, 9465, ...
# Already-running workers are left alone, so `workers-up.sh 5` after `workers-up.sh 3` adds w4, w5.
#
#   cluster/workers-up.sh N [--endpoints-dir DIR] [--lease-ttl S] [-- EXTRA WATCHER ARGS...]
#
# DIR defaults to <repo>/endpoints.d if it exists, else an empty .tmp/cluster/endpoints.d.
# Logs: .tmp/cluster/logs/worker-wI.log and proxy-wI.log. Needs `npm run build` (dist/).
source "$(dirname "$0")/lib.sh"

n="${1:-}"
[[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || die "usage: workers-up.sh N [--endpoints-dir DIR] [--lease-ttl S] [-- ARGS...]"
shift
ENDPOINTS_DIR=""
LEASE_TTL=""
EXTRA_ARGS=()
while (($#)); do
  case "$1" in
    --endpoints-dir) ENDPOINTS_DIR="$(cd "$2" && pwd)"; shift 2 ;;
    --lease-ttl) LEASE_TTL="$2"; shift 2 ;;
    --) shift; EXTRA_ARGS=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
done
if [[ -z "$ENDPOINTS_DIR" ]]; then
  if [[ -d "$ROOT/endpoints.d" ]]; then
    ENDPOINTS_DIR="$ROOT/endpoints.d"
  else
    ENDPOINTS_DIR="$STATE/endpoints.d"
    mkdir -p "$ENDPOINTS_DIR"
    log "no --endpoints-dir: using empty $ENDPOINTS_DIR"
  fi
fi
if [[ "$WATCHER_CMD" == "node $ROOT/dist/cli/main.js" && ! -f "$ROOT/dist/cli/main.js" ]]; then
  die "dist/cli/main.js is missing: run 'npm run build' first"
fi
etcd_endpoints >/dev/null
# Saved so that fault.sh restart starts a worker the same way.
declare -p ENDPOINTS_DIR LEASE_TTL EXTRA_ARGS >"$RUN/workers.conf"

for ((i = 1; i <= n; i++)); do start_worker "w$i" "$i"; done
log "workers: $(worker_ids | tr '\n' ' ')"
