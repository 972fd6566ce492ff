# shellcheck shell=bash
# Shared settings and helpers for the cluster/ scripts. Sourced, not run.
#
# Environment (all optional):
#   WATCHER_CLUSTER_DIR   state folder [<repo>/.tmp/cluster]: data/, logs/, run/ (pid files, ...)
#   ETCD_BASE_PORT        member i (1-based) listens for clients on BASE+i, peers on BASE+10+i [23790]
#   ETCD_BIN, ETCDCTL_BIN [/usr/bin/etcd, /usr/bin/etcdctl]
#   WORKER_BASE_PORT      worker wI's status server listens on BASE+I-1 [9464: w1 on the address
#                         endpoints.d/local.yml checks, like a standalone `npm start`]
#   WATCHER_CMD           command that starts a worker [node <repo>/dist/cli/main.js]

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${WATCHER_CLUSTER_DIR:-$ROOT/.tmp/cluster}"
RUN="$STATE/run"
LOGS="$STATE/logs"
DATA="$STATE/data"
ETCD_BASE_PORT="${ETCD_BASE_PORT:-23790}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"
ETCDCTL_BIN="${ETCDCTL_BIN:-/usr/bin/etcdctl}"
WORKER_BASE_PORT="${WORKER_BASE_PORT:-9464}"
WATCHER_CMD="${WATCHER_CMD:-node $ROOT/dist/cli/main.js}"
NODE_BIN="${NODE_BIN:-node}"

mkdir -p "$RUN" "$LOGS" "$DATA"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

etcd_client_port() { echo $((ETCD_BASE_PORT + $1)); }
etcd_peer_port() { echo $((ETCD_BASE_PORT + 10 + $1)); }

# pid_of FILE -> prints the PID in FILE if that process is alive, else nothing (status 1).
pid_of() {
  local f="$1" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A killed process whose parent has not reaped it yet (zombie) is dead for our purposes.
  [[ "$(proc_state "$pid")" != Z ]] || return 1
  echo "$pid"
}

alive() { kill -0 "$1" 2>/dev/null && [[ "$(proc_state "$1")" != Z ]]; }

# owns PID PATTERN -> true if the process's command line contains PATTERN. Guards every kill so a
# recycled PID of an unrelated process is never signalled.
owns() {
  local pid="$1" pattern="$2"
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$pattern"* ]]
}

# proc_state PID -> R/S/T/Z... (T = stopped by SIGSTOP)
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo '?'; }

# signal_pidfile FILE PATTERN SIGNAL -> sends SIGNAL if the PID in FILE is alive and matches.
signal_pidfile() {
  local f="$1" pattern="$2" sig="$3" pid
  pid="$(pid_of "$f")" || return 1
  owns "$pid" "$pattern" || { log "pid $pid in $f is not ours ($pattern); not signalling"; return 1; }
  kill "-$sig" "$pid"
  echo "$pid"
}

# stop_pidfile FILE PATTERN [TIMEOUT_S=10] -> SIGTERM (SIGCONT first), wait, then SIGKILL; removes FILE.
stop_pidfile() {
  local f="$1" pattern="$2" timeout="${3:-10}" pid i
  if pid="$(pid_of "$f")" && owns "$pid" "$pattern"; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "pid $pid did not stop within ${timeout}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

# wait_until TIMEOUT_S CMD... -> polls CMD every 0.2 s until it succeeds or TIMEOUT_S passes.
wait_until() {
  local timeout="$1" i
  shift
  for ((i = 0; i < timeout * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

etcd_members() { ls "$RUN"/etcd-m*.pid 2>/dev/null | sed -E 's/.*etcd-(m[0-9]+)\.pid/\1/' | sort -V; }

# Comma-separated client URLs of the cluster created by etcd-up.sh.
etcd_endpoints() {
  [[ -s "$RUN/etcd.endpoints" ]] || die "no etcd cluster: run cluster/etcd-up.sh first"
  cat "$RUN/etcd.endpoints"
}

etcd_healthy() { curl -fsS --max-time 1 "$1/health" 2>/dev/null | grep -q '"health":"true"'; }

# etcd_start_member NAME N STATE(new|existing) INITIAL_CLUSTER
etcd_start_member() {
  local name="$1" i="$2" state="$3" initial="$4" cport pport
  cport="$(etcd_client_port "$i")"
  pport="$(etcd_peer_port "$i")"
  if pid_of "$RUN/etcd-$name.pid" >/dev/null; then die "etcd $name already running"; fi
  mkdir -p "$DATA/etcd-$name"
  nohup "$ETCD_BIN" --name "$name" --data-dir "$DATA/etcd-$name" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$initial" --initial-cluster-state "$state" \
    --initial-cluster-token watcher-local --unsafe-no-fsync --logger zap --log-outputs stderr \
    --grpc-keepalive-min-time 2s --auto-compaction-mode periodic --auto-compaction-retention 1h \
    >>"$LOGS/etcd-$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/etcd-$name.pid"
  log "etcd $name pid $! client http://127.0.0.1:$cport (log $LOGS/etcd-$name.log)"
}

# Client URLs of the members whose process is alive (comma-separated; empty if none).
etcd_live_endpoints() {
  local name out=""
  for name in $(etcd_members); do
    pid_of "$RUN/etcd-$name.pid" >/dev/null || continue
    out+="${out:+,}http://127.0.0.1:$(etcd_client_port "${name#m}")"
  done
  echo "$out"
}

# The member name (m1..) of the current leader, from etcdctl endpoint status of the live members.
etcd_leader() {
  local eps json
  eps="$(etcd_live_endpoints)"
  [[ -n "$eps" ]] || return 1
  json="$("$ETCDCTL_BIN" --endpoints="$eps" --dial-timeout=1s --command-timeout=2s endpoint status -w json 2>/dev/null || true)"
  [[ -n "$json" ]] || return 1
  # The entry whose own member_id equals the leader it reports; its port maps back to mN.
  local ep
  ep="$(jq -r '[.[] | select(.Status.header.member_id == .Status.leader)][0].Endpoint // empty' <<<"$json")"
  [[ -n "$ep" ]] || return 1
  local port="${ep##*:}"
  echo "m$((port - ETCD_BASE_PORT))"
}

# ---------------------------------------------------------------------------------------------
# Workers (each behind its own tcp-proxy.mjs, so its etcd link can be cut alone)

worker_pattern() { echo "--id $1 "; }
proxy_pattern() { echo "proxy-$1.ports"; }

# start_worker ID INDEX: reads ENDPOINTS_DIR, LEASE_TTL, EXTRA_ARGS (array) from $RUN/workers.conf.
start_worker() {
  local id="$1" idx="$2" eps port ports purls="" t url
  # shellcheck disable=SC1091
  source "$RUN/workers.conf"
  if pid_of "$RUN/worker-$id.pid" >/dev/null; then
    log "worker $id already running"
    return 0
  fi
  eps="$(etcd_endpoints)"
  # Its proxy: one listener per etcd member.
  if ! pid_of "$RUN/proxy-$id.pid" >/dev/null; then
    local targets=()
    IFS=',' read -ra urls <<<"$eps"
    for url in "${urls[@]}"; do targets+=(--target "${url#http://}"); done
    rm -f "$RUN/proxy-$id.ports"
    nohup "$NODE_BIN" "$ROOT/cluster/tcp-proxy.mjs" "${targets[@]}" \
      --ports-file "$RUN/proxy-$id.ports" --control "$RUN/proxy-$id.mode" \
      >>"$LOGS/proxy-$id.log" 2>&1 </dev/null &
    echo $! >"$RUN/proxy-$id.pid"
    wait_until 10 test -s "$RUN/proxy-$id.ports" || die "proxy for $id did not start (see $LOGS/proxy-$id.log)"
  fi
  IFS=',' read -ra ports <<<"$(cat "$RUN/proxy-$id.ports")"
  for t in "${ports[@]}"; do purls+="${purls:+,}http://127.0.0.1:$t"; done
  port=$((WORKER_BASE_PORT + idx - 1))
  local cmd
  read -ra cmd <<<"$WATCHER_CMD"
  local args=(run --etcd "$purls" --id "$id" --endpoints-dir "$ENDPOINTS_DIR" --listen "127.0.0.1:$port")
  [[ -n "${LEASE_TTL:-}" ]] && args+=(--lease-ttl "$LEASE_TTL")
  args+=("${EXTRA_ARGS[@]}")
  nohup "${cmd[@]}" "${args[@]}" >>"$LOGS/worker-$id.log" 2>&1 </dev/null &
  echo $! >"$RUN/worker-$id.pid"
  log "worker $id pid $! status http://127.0.0.1:$port etcd via proxy $purls (log $LOGS/worker-$id.log)"
}

worker_ids() { ls "$RUN"/worker-w*.pid 2>/dev/null | sed -E 's/.*worker-(w[0-9]+)\.pid/\1/' | sort -V; }

stop_worker() {
  local id="$1"
  stop_pidfile "$RUN/worker-$id.pid" "$(worker_pattern "$id")" 15
  stop_pidfile "$RUN/proxy-$id.pid" "$(proxy_pattern "$id")" 5
  rm -f "$RUN/proxy-$id.ports" "$RUN/proxy-$id.mode"
}
