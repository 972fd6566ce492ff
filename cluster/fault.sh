#!/usr/bin/env bash
# Inject faults into the local cluster started by etcd-up.sh / workers-up.sh. Every action works by
# PID file (and checks the PID's command line), never by process name.
#
#   cluster/fault.sh kill ID [SIGNAL]      kill a worker (default SIGKILL, i.e. kill -9)
#   cluster/fault.sh pause ID              SIGSTOP a worker (frozen: no keepalives, no checks)
#   cluster/fault.sh resume ID             SIGCONT it
#   cluster/fault.sh restart ID            SIGTERM a worker (graceful), then start it again
#   cluster/fault.sh start ID              start a killed worker again (same flags as workers-up.sh)
#   cluster/fault.sh cut ID [drop|refuse]  cut a worker from etcd at its proxy [drop]:
#                                            drop   = blackhole (partition: nothing passes, sockets stay)
#                                            refuse = connections reset, new ones refused
#   cluster/fault.sh heal ID               restore a worker's etcd link
#   cluster/fault.sh kill-leader           kill -9 the etcd leader (prints its name)
#   cluster/fault.sh etcd-kill NAME [SIG]  kill one etcd member (m1, m2, ...) [SIGKILL]
#   cluster/fault.sh etcd-start NAME       restart a stopped etcd member with its data
#   cluster/fault.sh leader                print the etcd leader's name
#   cluster/fault.sh status                etcd members, workers and proxies with their state
#
# Stopping and restarting all of etcd: cluster/etcd-down.sh, then cluster/etcd-up.sh.
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

need_id() { [[ "${1:-}" =~ ^w[0-9]+$ ]] || die "worker id like w1 expected (got '${1:-}')"; }

worker_signal() {
  local id="$1" sig="$2" pid
  need_id "$id"
  pid="$(signal_pidfile "$RUN/worker-$id.pid" "$(worker_pattern "$id")" "$sig")" || die "worker $id is not running"
  log "worker $id (pid $pid): SIG$sig"
  if [[ "$sig" == KILL || "$sig" == 9 ]]; then wait_until 5 dead "$pid" || log "pid $pid still alive"; fi
}

dead() { ! alive "$1"; }

proxy_mode() {
  local id="$1" mode="$2" pid
  need_id "$id"
  pid="$(pid_of "$RUN/proxy-$id.pid")" || die "no proxy for worker $id (was it started by workers-up.sh?)"
  owns "$pid" "$(proxy_pattern "$id")" || die "pid $pid is not $id's proxy"
  echo "$mode" >"$RUN/proxy-$id.mode"
  kill -HUP "$pid"
  wait_until 5 grep -qx "$mode" "$RUN/proxy-$id.mode" || die "proxy of $id did not switch to $mode"
  log "worker $id etcd link: $mode"
}

member_index() {
  [[ "${1:-}" =~ ^m([0-9]+)$ ]] || die "etcd member name like m1 expected (got '${1:-}')"
  echo "${BASH_REMATCH[1]}"
}

initial_cluster() {
  local n i out=""
  n="$(cat "$RUN/etcd.size")"
  for ((i = 1; i <= n; i++)); do out+="${out:+,}m$i=http://127.0.0.1:$(etcd_peer_port "$i")"; done
  echo "$out"
}

# " PAUSED" when the process is stopped by SIGSTOP (always succeeds: safe under set -e).
paused_mark() { if [[ "$(proc_state "$1")" == T ]]; then echo ' PAUSED'; fi; }

action="${1:-}"
shift || true
case "$action" in
  kill) worker_signal "${1:-}" "${2:-KILL}" ;;
  pause) worker_signal "${1:-}" STOP ;;
  resume) worker_signal "${1:-}" CONT ;;
  restart)
    need_id "${1:-}"
    stop_pidfile "$RUN/worker-$1.pid" "$(worker_pattern "$1")" 15
    start_worker "$1" "${1#w}"
    ;;
  start)
    need_id "${1:-}"
    start_worker "$1" "${1#w}"
    ;;
  cut)
    mode="${2:-drop}"
    [[ "$mode" == drop || "$mode" == refuse ]] || die "cut mode must be drop or refuse"
    proxy_mode "${1:-}" "$mode"
    ;;
  heal) proxy_mode "${1:-}" open ;;
  leader)
    etcd_leader || die "no etcd leader found"
    ;;
  kill-leader)
    name="$(etcd_leader)" || die "no etcd leader found"
    pid="$(signal_pidfile "$RUN/etcd-$name.pid" "$DATA/etcd-$name" KILL)" || die "cannot signal leader $name"
    wait_until 5 dead "$pid" || true
    log "killed etcd leader $name (pid $pid)"
    echo "$name"
    ;;
  etcd-kill)
    i="$(member_index "${1:-}")"
    pid="$(signal_pidfile "$RUN/etcd-$1.pid" "$DATA/etcd-$1" "${2:-KILL}")" || die "etcd $1 is not running"
    log "etcd $1 (pid $pid): SIG${2:-KILL}"
    ;;
  etcd-start)
    i="$(member_index "${1:-}")"
    etcd_start_member "$1" "$i" existing "$(initial_cluster)"
    wait_until 20 etcd_healthy "http://127.0.0.1:$(etcd_client_port "$i")" || die "etcd $1 not healthy within 20 s"
    log "etcd $1 healthy"
    ;;
  status)
    leader="$(etcd_leader 2>/dev/null || true)"
    echo "etcd ($(cat "$RUN/etcd.endpoints" 2>/dev/null || echo 'not started')):"
    if [[ -s "$RUN/etcd.size" ]]; then
      for ((i = 1; i <= $(cat "$RUN/etcd.size"); i++)); do
        name="m$i"
        url="http://127.0.0.1:$(etcd_client_port "$i")"
        if pid="$(pid_of "$RUN/etcd-$name.pid")"; then
          health=unhealthy
          etcd_healthy "$url" && health=healthy
          state="pid $pid $health$(paused_mark "$pid")"
        else
          state=stopped
        fi
        mark=""
        [[ "$name" == "$leader" ]] && mark="  LEADER"
        printf '  %-4s %-26s %s%s\n' "$name" "$url" "$state" "$mark"
      done
    fi
    echo "workers:"
    for id in $(worker_ids); do
      if pid="$(pid_of "$RUN/worker-$id.pid")"; then
        state="pid $pid running$(paused_mark "$pid")"
      else
        state=dead
      fi
      link="$(cat "$RUN/proxy-$id.mode" 2>/dev/null || echo '?')"
      pid_of "$RUN/proxy-$id.pid" >/dev/null || link="no proxy"
      printf '  %-4s %-24s etcd link: %s\n' "$id" "$state" "$link"
    done
    ;;
  -h | --help | help | "") usage ;;
  *) die "unknown action '$action' (try: cluster/fault.sh help)" ;;
esac
