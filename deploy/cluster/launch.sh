#!/usr/bin/env bash
# Starts a troupe cluster: a front (`troupe serve --cluster-port`) and replica nodes
# (`troupe worker --join`), each with a log and a pid file in --dir; deploy/cluster/stop.sh
# drains them.
#
#   deploy/cluster/launch.sh --local N [options]            # N replica nodes on this machine
#   deploy/cluster/launch.sh --front HOST --replicas "H1 H2 ..." [options]   # over ssh
#
# options: --troupe PATH (default: build/cli/troupe locally, `troupe` over ssh)
#          --dir DIR (logs and pid files; default ./troupe-cluster)   --port N (HTTP, 8000)
#          --cluster-port N (9000)   --routing STRATEGY   --model PATH   --threads N
#          --ssh "COMMAND" (how to reach a host; default "ssh", e.g. "ssh -F my_config")
#          --cluster-secret-file FILE (over ssh: the cluster's secret; default a new random one,
#          kept as DIR/cluster.secret and copied to every host with mode 600)
# Over ssh, every host needs troupe and the model at the same paths; --dir is made on each.
# Nodes then talk mutual TLS; --local keeps the cluster port on loopback, where none is needed.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
fail() { echo "launch.sh: $*" >&2; exit 2; }

local_nodes="" front="" replicas="" troupe="" dir="$PWD/troupe-cluster" ssh_cmd="ssh" secret=""
port=8000 cluster_port=9000 extra=() worker_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --local) local_nodes=${2:?}; shift 2 ;;
    --front) front=${2:?}; shift 2 ;;
    --replicas) replicas=${2:?}; shift 2 ;;
    --troupe) troupe=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --port) port=${2:?}; shift 2 ;;
    --cluster-port) cluster_port=${2:?}; shift 2 ;;
    --routing) extra+=(--routing "${2:?}"); shift 2 ;;
    --model) extra+=(--model "${2:?}"); worker_extra+=(--model "$2"); shift 2 ;;
    --threads) extra+=(--threads "${2:?}"); worker_extra+=(--threads "$2"); shift 2 ;;
    --ssh) ssh_cmd=${2:?}; shift 2 ;;
    --cluster-secret-file) secret=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) fail "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$local_nodes" ] || [ -n "$front" ] || fail "give --local N or --front HOST --replicas \"...\""
mkdir -p "$dir"

# Waits until the front's /cluster lists `want` routable nodes.
wait_routable() {
  local url=$1 want=$2
  for _ in $(seq 1 600); do
    local have
    have=$(curl -sf "$url/cluster" | grep -o '"routable": *true' | wc -l || true)
    [ "$have" -ge "$want" ] && { echo "launch.sh: $have nodes routable at $url"; return 0; }
    sleep 0.2
  done
  fail "the cluster at $url did not come up; see the logs in $dir"
}

if [ -n "$local_nodes" ]; then
  troupe=${troupe:-build/cli/troupe}
  [ -x "$troupe" ] || fail "no troupe binary at $troupe (make build, or --troupe PATH)"
  "$troupe" serve --host 127.0.0.1 --port "$port" --cluster-host 127.0.0.1 \
    --cluster-port "$cluster_port" --node-name front "${extra[@]}" >"$dir/front.log" 2>&1 &
  echo $! >"$dir/front.pid"
  for _ in $(seq 1 600); do grep -q "cluster port" "$dir/front.log" && break; sleep 0.2; done
  for i in $(seq 1 "$local_nodes"); do
    "$troupe" worker --join "127.0.0.1:$cluster_port" --node-name "replica-$i" \
      "${worker_extra[@]}" >"$dir/replica-$i.log" 2>&1 &
    echo $! >"$dir/replica-$i.pid"
  done
  wait_routable "http://127.0.0.1:$port" $((local_nodes + 1))
  exit 0
fi

troupe=${troupe:-troupe}
[ -n "$replicas" ] || fail "--front needs --replicas \"HOST ...\""
remote() {  # host, name, command...: starts it detached with its log and pid file in $dir
  local host=$1 name=$2; shift 2
  # Only the process goes to the background, every stream of it redirected, so ssh returns at
  # once; nohup execs troupe, so the pid file holds troupe's own pid.
  local command quoted_dir
  command=$(printf '%q ' "$@")  # each argument quoted for the remote shell (paths with spaces)
  quoted_dir=$(printf '%q' "$dir")
  $ssh_cmd -n "$host" "mkdir -p $quoted_dir; nohup $command >$quoted_dir/$name.log 2>&1 </dev/null & echo \$! >$quoted_dir/$name.pid"
  echo "$host $name" >>"$dir/hosts"
}
echo "$ssh_cmd" >"$dir/ssh"  # stop.sh reaches the hosts the same way
: >"$dir/hosts"
# The cluster's secret: every node proves it holds it in the TLS handshake on the cluster port.
if [ -z "$secret" ]; then
  secret="$dir/cluster.secret"
  (umask 077; head -c 32 /dev/urandom | base64 >"$secret")
fi
[ -r "$secret" ] || fail "cannot read the cluster secret file $secret"
remote_secret="$dir/cluster.secret"
for host in $front $replicas; do
  $ssh_cmd "$host" "umask 077; mkdir -p $(printf '%q' "$dir"); cat >$(printf '%q' "$remote_secret").new && mv $(printf '%q' "$remote_secret").new $(printf '%q' "$remote_secret")" <"$secret" \
    || fail "cannot copy the cluster secret to $host"
done
remote "$front" front "$troupe" serve --port "$port" --cluster-port "$cluster_port" \
  --cluster-secret-file "$remote_secret" --node-name front "${extra[@]}"
i=0
for host in $replicas; do
  i=$((i + 1))
  remote "$host" "replica-$i" "$troupe" worker --join "$front:$cluster_port" \
    --cluster-secret-file "$remote_secret" --node-name "replica-$i" "${worker_extra[@]}"
done
wait_routable "http://$front:$port" $((i + 1))
