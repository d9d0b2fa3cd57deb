#!/bin/bash
# perf record (cpu-clock, 999 Hz, 10 s) of a peer during a fanoutB-style step at RATE msg/s
# usage: prof-fanout.sh NAME BINARY PORT RATE
set -u
NAME=$1 BIN=$2 PORT=$3 RATE=$4
cd /work/sio-bench-run/prof
ulimit -n 20000
taskset -c 0 "$BIN" "$PORT" > "server-$NAME.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do grep -q listening "server-$NAME.log" && break; sleep 0.1; done
taskset -c 1 /work/sio-bench-run/target/release/sio-bench fanout --port "$PORT" --server-pid "$SPID" --label "$NAME-prof" \
  --clients 1000 --rooms 1 --rates "$RATE" --duration 20 --payload 100 --max-p99-ms 100 --max-loss 0 \
  --prewarm 5 --prewarm-rate 25 > "gen-$NAME.jsonl" 2> "gen-$NAME.txt" &
GPID=$!
sleep 14   # connect + membership proof + 5 s prewarm, then ~5 s into the 20 s step
perf record -e cpu-clock -F 999 -g -p "$SPID" -o "perf-$NAME.data" -- sleep 10 2> "perf-$NAME.err"
wait $GPID
kill -INT $SPID; wait $SPID
