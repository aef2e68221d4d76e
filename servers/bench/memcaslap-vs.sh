#!/usr/bin/env bash
# The generated memcached server next to memcached itself under memcaslap
# (Debian's name for libmemcached's memaslap), in one run.
#
#   servers/bench/memcaslap-vs.sh [ROUNDS] [SECONDS] [CONCURRENCY]
#
# Each round starts a fresh memcached (-t 1 -m 64) and a fresh memcached-server
# (--threads 1), one after the other, the side that goes first alternating
# from round to round, and runs `memcaslap -T 1 -c CONCURRENCY -t SECONDSs`
# against each (its defaults: 64-byte keys, 1024-byte values, 90% get, 10% set).
# Defaults: 3 rounds, 5 s, 16 connections. After each run it reads the server's
# `stats`. Prints one Markdown row per run, then the medians and their ratio;
# memcaslap's full output is kept in $OUT (default /tmp/memcaslap-vs).
# Needs memcached, memcaslap and nc (Debian: memcached, libmemcached-tools,
# netcat-openbsd).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${2:-5}
conc=${3:-16}
out=${OUT:-/tmp/memcaslap-vs}
mkdir -p "$out"

cargo build --release -q -p protospec-servers --bin memcached-server
ours=target/release/memcached-server
theirs=$(command -v memcached || echo /usr/bin/memcached)
[ -x "$theirs" ] || { echo "memcached is not installed" >&2; exit 2; }
command -v memcaslap >/dev/null || { echo "memcaslap is not installed" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || shuf -i 20000-40000 -n 1; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
stat_of() { awk -v k="$1" '$1 == "STAT" && $2 == k {print $3}' | tr -d '\r'; }

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# run SIDE ROUND: start the server, load it, read its stats, stop it.
run() {
  local side=$1 round=$2 port log
  port=$(free_port)
  log=$out/$side.$round
  if [ "$side" = memcached ]; then
    user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
    "$theirs" -l 127.0.0.1 -p "$port" -U 0 -t 1 -m 64 "${user[@]}" & pid=$!
  else
    "$ours" --listen "127.0.0.1:$port" --threads 1 2>/dev/null & pid=$!
  fi
  wait_port "$port"
  memcaslap -s "127.0.0.1:$port" -T 1 -c "$conc" -t "${seconds}s" > "$log.out" 2>&1 || echo "memcaslap exited $?" >> "$log.out"
  printf 'stats\r\n' | nc -q1 127.0.0.1 "$port" > "$log.stats" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  local tps misses errors
  tps=$(sed -nE 's/.*TPS: ([0-9]+).*/\1/p' "$log.out")
  misses=$(sed -nE 's/^get_misses: ([0-9]+).*/\1/p' "$log.out")
  errors=$(grep -ciE 'error|fail|verify|unexpected|exited' "$log.out" || true)
  echo "$tps" >> "$out/$side.tps"
  echo "| $round | $side | ${tps:-?} | ${misses:-?} | $errors | $(stat_of cmd_set < "$log.stats") | $(stat_of get_hits < "$log.stats") | $(stat_of get_misses < "$log.stats") |"
}

rm -f "$out"/memcached.tps "$out"/memcached-server.tps
echo "| round | server | TPS | memcaslap get_misses | memcaslap error lines | server cmd_set | server get_hits | server get_misses |"
echo "|---|---|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then sides=(memcached memcached-server); else sides=(memcached-server memcached); fi
  for side in "${sides[@]}"; do run "$side" "$round"; sleep 0.5; done
done
m=$(median < "$out/memcached.tps"); o=$(median < "$out/memcached-server.tps")
echo
echo "median TPS: memcached $m, memcached-server $o, ratio $(awk -v o="$o" -v m="$m" 'BEGIN {printf "%.2f×", o / m}')"
