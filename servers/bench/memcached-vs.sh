#!/usr/bin/env bash
# The generated memcached server next to memcached itself, under the same
# closed-loop load (memcached-load), alternating server by server in one run.
#
#   servers/bench/memcached-vs.sh [ROUNDS] [SECONDS]
#
# For server threads 1 and 2 (memcached's -t, memcached-server's --threads),
# a GET-heavy (10% set) and a SET-heavy (90% set) mix, 16 and 256
# connections: ROUNDS rounds (default 3) of SECONDS seconds (default 3) on
# each server, alternating. Prints a Markdown table of medians and ratios.
# Needs memcached on PATH (Debian: apt-get install memcached).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${2:-3}

cargo build --release -q -p protospec-servers --bin memcached-server --bin memcached-load
load=target/release/memcached-load
ours=target/release/memcached-server
theirs=$(command -v memcached || echo /usr/bin/memcached)
[ -x "$theirs" ] || { echo "memcached is not installed" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || shuf -i 20000-40000 -n 1; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "| threads | mix | connections | memcached ops/s | memcached-server ops/s | ratio | memcached p50 / p99 µs | memcached-server p50 / p99 µs |"
echo "|---|---|---|---|---|---|---|---|"
for threads in 1 2; do
  mport=$(free_port); oport=$(free_port)
  user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
  "$theirs" "${user[@]}" -l 127.0.0.1 -p "$mport" -U 0 -t "$threads" -m 1024 -c 4096 & pids+=($!)
  "$ours" --listen "127.0.0.1:$oport" --threads "$threads" --max-connections 4096 2>/dev/null & pids+=($!)
  wait_port "$mport"; wait_port "$oport"
  for mix in 10 90; do
    for conns in 16 256; do
      : > /tmp/memcached-vs.m; : > /tmp/memcached-vs.o
      for _ in $(seq "$rounds"); do
        "$load" --target "127.0.0.1:$mport" --connections "$conns" --set-percent "$mix" --seconds "$seconds" --json >> /tmp/memcached-vs.m
        "$load" --target "127.0.0.1:$oport" --connections "$conns" --set-percent "$mix" --seconds "$seconds" --json >> /tmp/memcached-vs.o
      done
      m_ops=$(field ops_per_s < /tmp/memcached-vs.m | median); o_ops=$(field ops_per_s < /tmp/memcached-vs.o | median)
      m50=$(field p50_us < /tmp/memcached-vs.m | median); m99=$(field p99_us < /tmp/memcached-vs.m | median)
      o50=$(field p50_us < /tmp/memcached-vs.o | median); o99=$(field p99_us < /tmp/memcached-vs.o | median)
      ratio=$(awk -v o="$o_ops" -v m="$m_ops" 'BEGIN {printf "%.2f×", o / m}')
      name=$([ "$mix" = 10 ] && echo "GET-heavy (10% set)" || echo "SET-heavy (90% set)")
      echo "| $threads | $name | $conns | $m_ops | $o_ops | $ratio | $m50 / $m99 | $o50 / $o99 |"
    done
  done
  cleanup; pids=()
  sleep 0.5
done
