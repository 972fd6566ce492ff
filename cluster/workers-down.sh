#!/usr/bin/env bash
# Stop workers (graceful SIGTERM; SIGKILL after 15 s) and their proxies, by PID file.
#
#   cluster/workers-down.sh [ID...]      (default: every worker)
source "$(dirname "$0")/lib.sh"

ids=("$@")
((${#ids[@]})) || mapfile -t ids < <(worker_ids)
for id in "${ids[@]}"; do stop_worker "$id" & done
wait
# Proxies whose worker is already gone.
for f in "$RUN"/proxy-w*.pid; do
  [[ -e "$f" ]] || continue
  id="$(sed -E 's/.*proxy-(w[0-9]+)\.pid/\1/' <<<"$f")"
  if ((${#@} == 0)) || [[ " ${ids[*]} " == *" $id "* ]]; then
    [[ -e "$RUN/worker-$id.pid" ]] || stop_worker "$id"
  fi
done
log "workers stopped: ${ids[*]:-none}"
