#!/usr/bin/env bash
# Drains and stops a cluster that deploy/cluster/launch.sh started: SIGTERM to every replica
# node first (each stops admitting, finishes its requests and leaves), then to the front; waits
# for each to exit.   deploy/cluster/stop.sh [--dir DIR]   (default ./troupe-cluster)
set -euo pipefail
dir="$PWD/troupe-cluster"
[ "${1:-}" = "--dir" ] && dir=${2:?}
[ -d "$dir" ] || { echo "stop.sh: no cluster directory $dir" >&2; exit 2; }

stop_local() {  # pid file
  local pid
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "stop.sh: $(basename "$1" .pid) stopped"
}

if [ -s "$dir/hosts" ]; then  # started over ssh: replicas first, the front last
  ssh_cmd=$(cat "$dir/ssh" 2>/dev/null || echo ssh)
  grep -v ' front$' "$dir/hosts" | while read -r host name; do
    # One unreachable host must not leave the others running.
    $ssh_cmd -n "$host" "pid=\$(cat '$dir/$name.pid'); kill -TERM \$pid; while kill -0 \$pid 2>/dev/null; do sleep 0.1; done" \
      && echo "stop.sh: $name on $host stopped" || echo "stop.sh: cannot stop $name on $host" >&2
  done
  grep ' front$' "$dir/hosts" | while read -r host name; do
    $ssh_cmd -n "$host" "pid=\$(cat '$dir/$name.pid'); kill -TERM \$pid; while kill -0 \$pid 2>/dev/null; do sleep 0.1; done" \
      && echo "stop.sh: front on $host stopped" || echo "stop.sh: cannot stop the front on $host" >&2
  done
  exit 0
fi
for pidfile in "$dir"/replica-*.pid; do
  [ -e "$pidfile" ] && stop_local "$pidfile"
done
[ -e "$dir/front.pid" ] && stop_local "$dir/front.pid"
exit 0
