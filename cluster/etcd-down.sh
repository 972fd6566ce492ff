#!/usr/bin/env bash
# Stop the local etcd members started by etcd-up.sh, by PID file (SIGTERM, SIGKILL after 10 s).
# Data is kept (etcd-up.sh brings the cluster back with its keys) unless --wipe is given.
#
#   cluster/etcd-down.sh [--wipe]
source "$(dirname "$0")/lib.sh"

wipe=0
[[ "${1:-}" == "--wipe" ]] && wipe=1

# Followers first, the leader last: a leader stopped while its followers run spends seconds
# trying to hand leadership over.
leader="$(etcd_leader 2>/dev/null || true)"
for name in $(etcd_members); do
  [[ "$name" == "$leader" ]] && continue
  stop_pidfile "$RUN/etcd-$name.pid" "$DATA/etcd-$name" 10 &
done
wait
[[ -n "$leader" ]] && stop_pidfile "$RUN/etcd-$leader.pid" "$DATA/etcd-$leader" 10
log "etcd stopped"
if ((wipe)); then
  rm -rf "$DATA"/etcd-m* "$RUN/etcd.size" "$RUN/etcd.endpoints"
  log "etcd data wiped"
fi
