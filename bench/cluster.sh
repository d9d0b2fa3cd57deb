#!/usr/bin/env bash
# Cluster benchmark (issue 14), one run, single node as the baseline in the same run:
#   (1) publish→receive latency at RATE msg/s (default 1000) to 1000 subscribers of one
#       room: one node (no Redis) vs three nodes on one Redis stream with the subscribers
#       spread over the three and the publisher on node 1;
#   (2) the highest publish rate the bus sustains with 0 loss (rate steps, three nodes);
#   (3) recovery time after kill -9 (bench/cluster-recovery.mjs).
#
#   bench/cluster.sh [OUT_DIR]      # ~5 min; writes OUT_DIR/results.jsonl, OUT_DIR/summary.md
#
# Everything shares this 2-core machine: three nodes, a private redis-server and the
# generator; the single-node baseline gets the same machine (its server alone). Nothing is
# pinned: three nodes on one core would measure the core, not the bus.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ)}
RATE=${RATE:-1000}
CLIENTS=${CLIENTS:-1000}
STEPS=${STEPS:-"1000,2000,3000,4000,6000,8000"}
STEP_S=${STEP_S:-8}
mkdir -p "$OUT"

cargo build --release -q -p switchboard --bin switchboard
(cd bench/generator && CARGO_TARGET_DIR=target cargo build --release -q)
GEN=bench/generator/target/release/sb-bench
BIN=target/release/switchboard
RPORT=6391
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
pids+=($!)
for _ in $(seq 50); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.1; done

env_common=(SWITCHBOARD_RATE_LIMIT_PER_SEC=0 SWITCHBOARD_MAX_CONNECTIONS_PER_IP=0 RUST_LOG=warn)
start() { # port [redis]
  local port=$1; shift
  env "${env_common[@]}" "$BIN" serve --listen 127.0.0.1:$port --database-url sqlite::memory: "$@" \
    >"$OUT/server-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf 127.0.0.1:$port/health >/dev/null && return 0; sleep 0.1; done
  echo "node on $port did not start" >&2; return 1
}
stop_all_nodes() { for p in "${pids[@]:1}"; do kill -9 "$p" 2>/dev/null || true; done; pids=("${pids[0]}"); sleep 0.5; }

run_gen() { # label args...
  local label=$1; shift
  "$GEN" fanout --proto erp --clients "$CLIENTS" --rooms 1 --duration "$STEP_S" --prewarm 2 --prewarm-rate 25 \
    --drain 5 --http-conns 64 --label "$label" "$@" 2>>"$OUT/log.txt" | tee -a "$OUT/results.jsonl" >/dev/null
}

# (1) single node
start 3301
run_gen single --port 3301 --rates "$RATE" --tag latency
stop_all_nodes
# (1) three nodes, subscribers spread, publisher on node 1
for i in 1 2 3; do
  start 330$i --redis-url redis://127.0.0.1:$RPORT --node-id bench-$i
done
run_gen cluster3 --port 3301 --sub-ports 3301,3302,3303 --rates "$RATE" --tag latency
# (2) the highest rate with 0 loss
run_gen cluster3 --port 3301 --sub-ports 3301,3302,3303 --rates "$STEPS" --tag ladder
stop_all_nodes

# (3) recovery after kill -9
node bench/cluster-recovery.mjs "$BIN" "redis://127.0.0.1:$RPORT" >>"$OUT/results.jsonl" 2>>"$OUT/log.txt"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/results.jsonl") if l.strip()]
md = ["| run | msg/s | deliveries/s | lost | p50 ms | p99 ms | pass |", "|---|---|---|---|---|---|---|"]
for r in rows:
    if r.get("scenario") == "recovery":
        continue
    for s in r.get("steps", []):
        lat = s.get("latency_ms") or {}
        md.append(f"| {r.get('label')} {r.get('tag')} | {s.get('rate')} | {s.get('delivered_per_s', 0):,.0f} | {s.get('lost')} | {lat.get('p50')} | {lat.get('p99')} | {s.get('pass')} |")
rec = [r for r in rows if r.get("scenario") == "recovery"]
if rec:
    md += ["", "recovery after kill -9 (client reconnect → last missed event), ms: " + ", ".join(str(x) for x in rec[0]["ms"])]
open(f"{out}/summary.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
