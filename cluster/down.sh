#!/usr/bin/env bash
# Stop everything the cluster/ scripts started (workers, proxies, etcd), by PID file.
#
#   cluster/down.sh [--wipe]     --wipe also deletes etcd data
dir="$(dirname "$0")"
"$dir/workers-down.sh"
"$dir/etcd-down.sh" "$@"
