#!/usr/bin/env bash
# Latency under periodic work (issue 16): a 10 000-client connect storm at 1 000/s, each client
# `module:subscribe`s m0 on connect, while the KPI re-broadcast (every 5 s), the dashboard and
# the load-metrics ticks run. m0 holds 20 KPIs (~4 KB), so each KPI tick re-sends ~4 KB to
# every subscriber connected so far. Prints connect->snapshot p50/p99/max for each second of
# the storm (by the second the client started); the target is p99 <= 2 ms in every second.
#
#   bench/storm.sh [OUTDIR]     default OUTDIR bench/results/storm-<UTC date-time>
#
# Knobs: SB (server binary; default target/release/switchboard), SB_BASE (a second binary,
# e.g. the previous commit's build, measured in the same run, alternating), REPS (2),
# CLIENTS (10000), RATE (1000), HOLD (2), PEERS ("": also "peer" for crates/sio's bench-peer and
# "raw" for ../shared/sio-bench's raw peer, built with RAW=path/to/sio-peer-raw: the same storm
# without the app, connect->CONNECT ack per second, i.e. what the engine alone and what the
# machine itself show). Server pinned to CPU 0, generator to CPU 1, a fresh server per run;
# loopback only; each run ends by itself.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT=${1:-bench/results/storm-$(date -u +%Y-%m-%dT%H%M%SZ)}
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
TARGET=${CARGO_TARGET_DIR:-target}
SB=${SB:-$TARGET/release/switchboard}
GEN=${SB_BENCH:-bench/generator/target/release/sb-bench}
REPS=${REPS:-2}; CLIENTS=${CLIENTS:-10000}; RATE=${RATE:-1000}; HOLD=${HOLD:-2}
PORT=3301; KEY=storm-key
[ "$SB" != "$TARGET/release/switchboard" ] || cargo build --release -q -p switchboard --bin switchboard
(cd bench/generator && CARGO_TARGET_DIR=target cargo build --release -q)
ulimit -n 20000 2>/dev/null || true

kpis() { python3 - <<'PY'
import json
print(json.dumps([{"id": f"kpi_{i}", "label": f"Indicator number {i} of the storm module",
  "value": 1000 + i * 37.25, "trend": "+3.5%", "status": "success",
  "chart": {"source": "bench/storm.sh", "window": "24h", "points": [i, i + 1, i + 2, i + 3, i + 5, i + 8]}}
  for i in range(20)]))
PY
}
BODY=$(kpis)

run() { # label binary rep
  local label=$1 bin=$2 rep=$3 log="$OUT/server-$1-$3.log"
  env SWITCHBOARD_RATE_LIMIT_PER_SEC=0 SWITCHBOARD_MAX_CONNECTIONS_PER_IP=0 \
    taskset -c 0 "$bin" serve --listen "127.0.0.1:$PORT" --database-url sqlite::memory: --api-key "$KEY" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  curl -sf -o /dev/null -w "seeded m0: %{http_code} %{size_download} B\n" -X PUT "http://127.0.0.1:$PORT/api/v1/modules/m0/kpis" -H "authorization: Bearer $KEY" \
    -H 'content-type: application/json' -d "$BODY" >>"$OUT/log.txt"
  taskset -c 1 timeout 120 "$GEN" connect --proto erp --port $PORT --server-pid $pid --clients "$CLIENTS" \
    --rate "$RATE" --hold "$HOLD" --label "$label" --tag "storm-$rep" >>"$OUT/results.jsonl" 2>>"$OUT/log.txt" || true
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
}
peer_run() { # label rep: the bare storm (no app, no subscribe answer) against a peer
  local label=$1 rep=$2 log="$OUT/server-$1-$2.log" pid
  case $label in
    peer) taskset -c 0 "$TARGET/release/examples/bench-peer" "$PORT" >"$log" 2>&1 & pid=$! ;;
    raw)  taskset -c 0 "$RAW" "$PORT" >"$log" 2>&1 & pid=$! ;;
  esac
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  taskset -c 1 timeout 120 "$GEN" connect --proto peer --port $PORT --server-pid $pid --clients "$CLIENTS" \
    --rate "$RATE" --hold "$HOLD" --label "$label" --tag "storm-$rep" >>"$OUT/results.jsonl" 2>>"$OUT/log.txt" || true
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
}
case " ${PEERS:-} " in *" peer "*) cargo build --release -q -p sio --example bench-peer ;; esac
case " ${PEERS:-} " in *" raw "*) [ -x "${RAW:-}" ] || { echo "PEERS=raw needs RAW=path/to/sio-peer-raw" >&2; exit 2; } ;; esac
for rep in $(seq 1 "$REPS"); do
  run switchboard "$SB" "$rep"
  [ -n "${SB_BASE:-}" ] && run sb-base "$SB_BASE" "$rep"
  for p in ${PEERS:-}; do peer_run "$p" "$rep"; done
done
python3 - "$OUT/results.jsonl" <<'PY' | tee "$OUT/storm.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| server | run | connected | subscribed | worst second p99 ms: snapshot / ack | p99 by second (ms): snapshot, else ack |")
print("|---|---|---|---|---|---|")
for r in rows:
    by = r.get("connect_to_snapshot_ms_by_second") or r.get("connect_to_ack_ms_by_second", [])
    secs = " ".join(f"{s.get('p99', 0):g}" for s in by)
    snap = r.get("worst_second_snapshot_p99_ms") if r.get("subscribed") else "–"
    print(f"| {r.get('label')} | {r.get('tag')} | {r.get('connected')} | {r.get('subscribed')} | {snap} / {r.get('worst_second_ack_p99_ms')} | {secs} |")
PY
