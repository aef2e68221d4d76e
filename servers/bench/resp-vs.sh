#!/usr/bin/env bash
# resp-server next to redis-server (the redis suite's peer, run by its
# `peer` script), under the same redis-benchmark load, alternating server
# by server in one run.
#
#   servers/bench/resp-vs.sh [ROUNDS] [REQUESTS]
#
# GET and SET with 50 clients (redis-benchmark's default), pipelined 1 and
# 16 deep: ROUNDS rounds (default 3) of REQUESTS requests (default 200000)
# per test on each server, alternating. One thread each side: resp-server
# --threads 1, redis-server's one event loop. Prints a Markdown table of
# medians (requests per second) and resp-server's ratio to redis-server.
# Needs redis-server and redis-benchmark (Debian: apt-get install redis-server).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
requests=${2:-200000}

cargo build --release -q -p protospec-servers --bin resp-server
ours=target/release/resp-server
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is not installed" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f /tmp/resp-vs.r /tmp/resp-vs.o; }
trap cleanup EXIT

rport=$(free_port); oport=$(free_port)
PORT=$rport conformance/suites/redis/peer >/dev/null 2>&1 & pids+=($!)
"$ours" --listen "127.0.0.1:$oport" --threads 1 --max-connections 4096 2>/dev/null & pids+=($!)
wait_port "$rport"; wait_port "$oport"

# One redis-benchmark run of one test: requests per second.
rps() {
  redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -n "$requests" -P "$3" -q 2>/dev/null |
    tr '\r' '\n' | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { printf "%d\n", v }'
}

echo "| test | pipeline | redis-server req/s | resp-server req/s | ratio |"
echo "|---|---|---|---|---|"
for test in get set; do
  for depth in 1 16; do
    : > /tmp/resp-vs.r; : > /tmp/resp-vs.o
    for _ in $(seq "$rounds"); do
      rps "$rport" "$test" "$depth" >> /tmp/resp-vs.r
      rps "$oport" "$test" "$depth" >> /tmp/resp-vs.o
    done
    r=$(median < /tmp/resp-vs.r); o=$(median < /tmp/resp-vs.o)
    ratio=$(awk -v o="$o" -v r="$r" 'BEGIN {printf "%.2f×", o / r}')
    echo "| ${test^^} | $depth | $r | $o | $ratio |"
  done
done
