#!/bin/bash
# heaptrack the sio bench-peer during the connect scenario (10k clients at 1000/s, hold 10 s)
set -u
cd /work/sio-bench-run/prof
ulimit -n 20000
taskset -c 0 heaptrack -o /work/sio-bench-run/prof/heap-sio /work/sio-bench-run/bench-peer-sio 3104 > heap-server.log 2>&1 &
for _ in $(seq 100); do grep -q listening heap-server.log && break; sleep 0.1; done
SPID=$(grep -o 'pid=[0-9]*' heap-server.log | cut -d= -f2)
echo "server pid $SPID"
taskset -c 1 /work/sio-bench-run/target/release/sio-bench connect --port 3104 --server-pid "$SPID" --label sio-heaptrack \
  --clients 10000 --rate 1000 --hold 10 > heap-gen.jsonl 2> heap-gen.txt
kill -INT "$SPID"
wait
