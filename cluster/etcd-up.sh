#!/usr/bin/env bash
# Start a local N-member etcd cluster on 127.0.0.1 [N=3], or restart the stopped members of an
# existing one (same data, so stop/start keeps the keys). Member mI: clients on ETCD_BASE_PORT+I
# (23791, 23792, ...), peers on ETCD_BASE_PORT+10+I. Data in .tmp/cluster/data, logs in
# .tmp/cluster/logs, PIDs in .tmp/cluster/run/etcd-mI.pid. Prints the client URLs on stdout.
#
#   cluster/etcd-up.sh [N]
source "$(dirname "$0")/lib.sh"

n="${1:-}"
if [[ -z "$n" && -s "$RUN/etcd.size" ]]; then n="$(cat "$RUN/etcd.size")"; fi
n="${n:-3}"
[[ "$n" =~ ^[1-9]$ ]] || die "N must be 1..9 (got $n)"
if [[ -s "$RUN/etcd.size" && "$(cat "$RUN/etcd.size")" != "$n" ]]; then
  die "an etcd cluster of $(cat "$RUN/etcd.size") members exists in $STATE; run cluster/etcd-down.sh --wipe first"
fi

initial=""
endpoints=""
for ((i = 1; i <= n; i++)); do
  initial+="${initial:+,}m$i=http://127.0.0.1:$(etcd_peer_port "$i")"
  endpoints+="${endpoints:+,}http://127.0.0.1:$(etcd_client_port "$i")"
done
echo "$n" >"$RUN/etcd.size"
echo "$endpoints" >"$RUN/etcd.endpoints"

started=()
for ((i = 1; i <= n; i++)); do
  name="m$i"
  if pid_of "$RUN/etcd-$name.pid" >/dev/null; then
    log "etcd $name already running"
    continue
  fi
  state=new
  [[ -d "$DATA/etcd-$name/member" ]] && state=existing
  etcd_start_member "$name" "$i" "$state" "$initial"
  started+=("$name")
done

for ((i = 1; i <= n; i++)); do
  url="http://127.0.0.1:$(etcd_client_port "$i")"
  if ! wait_until 20 etcd_healthy "$url"; then
    log "etcd m$i not healthy within 20 s; last log lines:"
    tail -n 20 "$LOGS/etcd-m$i.log" >&2 || true
    exit 1
  fi
done
log "etcd cluster healthy (${#started[@]} started): $endpoints"
echo "$endpoints"
