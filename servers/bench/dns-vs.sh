#!/usr/bin/env bash
# dns-server next to dnsmasq (the dns suite's peer, run by its `peer`
# script), under the same dnsperf load over TCP, alternating server by
# server in one run.
#
#   servers/bench/dns-vs.sh [ROUNDS] [SECONDS]
#
# For dnsperf's -c 1 and -c 4 (TCP connections) with its default of 100
# queries outstanding: ROUNDS rounds (default 3) of SECONDS seconds (default
# 3) on each server, alternating. The query file is host1..host100.test A,
# three AAAA, five unknown names, a CNAME and a name of three addresses (110
# queries, over and over). Prints a Markdown table of medians.
# Needs dnsperf and dnsmasq (Debian: apt-get install dnsperf dnsmasq-base).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${2:-3}

cargo build --release -q -p protospec-servers --bin dns-server
ours=target/release/dns-server
command -v dnsperf >/dev/null || { echo "dnsperf is not installed" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || shuf -i 20000-40000 -n 1; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

queries=$(mktemp)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$queries" /tmp/dns-vs.m /tmp/dns-vs.o; }
trap cleanup EXIT
{
  for i in $(seq 1 100); do echo "host$i.test A"; done
  for n in alpha beta gamma; do echo "$n.test AAAA"; done
  for i in 1 2 3 4 5; do echo "nosuch$i.test A"; done
  echo "www.test A"; echo "multi.test A"
} > "$queries"

mport=$(free_port); oport=$(free_port)
PORT=$mport conformance/suites/dns/peer 2>/dev/null & pids+=($!)
"$ours" --listen "127.0.0.1:$oport" --hosts conformance/suites/dns/hosts --ttl 3600 \
  --cname www.test,alpha.test --max-connections 4096 2>/dev/null & pids+=($!)
wait_port "$mport"; wait_port "$oport"

# One dnsperf run: "qps completed% lost".
perf() {
  dnsperf -s 127.0.0.1 -p "$1" -m tcp -d "$queries" -l "$seconds" -c "$2" 2>&1 | awk '
    /Queries completed:/ { gsub(/[()%]/, "", $4); c = $4 }
    /Queries lost:/ { l = $3 }
    /Queries per second:/ { q = $4 }
    END { printf "%d %s %s\n", q, c, l }'
}

echo "| dnsperf -c | dnsmasq q/s | dnsmasq completed | dns-server q/s | dns-server completed | ratio |"
echo "|---|---|---|---|---|---|"
for clients in 1 4; do
  : > /tmp/dns-vs.m; : > /tmp/dns-vs.o
  for _ in $(seq "$rounds"); do
    perf "$mport" "$clients" >> /tmp/dns-vs.m
    perf "$oport" "$clients" >> /tmp/dns-vs.o
  done
  m_q=$(awk '{print $1}' /tmp/dns-vs.m | median); o_q=$(awk '{print $1}' /tmp/dns-vs.o | median)
  m_c=$(awk '{print $2}' /tmp/dns-vs.m | median); o_c=$(awk '{print $2}' /tmp/dns-vs.o | median)
  ratio=$(awk -v o="$o_q" -v m="$m_q" 'BEGIN {printf "%.0f×", o / m}')
  echo "| $clients | $m_q | $m_c% | $o_q | $o_c% | $ratio |"
done
