#!/usr/bin/env bash
# Publish API requests/s against the server's own HTTP floor (issue 16): Node's publish, our
# publish (one room) and our `GET /health` (`sb-bench publish --floor-path`: hyper, the router,
# a small JSON answer, no key/body/parse/emit) under the same closed-loop load, alternating.
# A publish cannot beat the floor, so the floor says what a requests/s target can mean here.
#
#   bench/publish-floor.sh [OUTDIR]     default OUTDIR bench/results/publish-floor-<UTC date-time>
#
# Knobs: REPS (3), SECS (5), CONNS (16). Server on CPU 0, generator on CPU 1; loopback only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT=${1:-bench/results/publish-floor-$(date -u +%Y-%m-%dT%H%M%SZ)}
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
TARGET=${CARGO_TARGET_DIR:-target}
SB=$TARGET/release/switchboard
GEN=bench/generator/target/release/sb-bench
REPS=${REPS:-3}; SECS=${SECS:-5}; CONNS=${CONNS:-16}; PORT=3410
cargo build --release -q -p switchboard --bin switchboard
(cd bench/generator && CARGO_TARGET_DIR=target cargo build --release -q)
[ -d bench/baselines/node/node_modules ] || npm ci --prefix bench/baselines/node --no-audit --no-fund --loglevel=error
for rep in $(seq 1 "$REPS"); do
  for s in node switchboard floor; do
    case $s in
      node) taskset -c 0 node bench/baselines/node/server.js $PORT >"$OUT/server-$s-$rep.log" 2>&1 & ;;
      *) env SWITCHBOARD_RATE_LIMIT_PER_SEC=0 SWITCHBOARD_MAX_CONNECTIONS_PER_IP=0 taskset -c 0 "$SB" serve \
           --listen 127.0.0.1:$PORT --database-url sqlite::memory: >"$OUT/server-$s-$rep.log" 2>&1 & ;;
    esac
    pid=$!
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
    what=(--room-counts 1); [ $s = floor ] && what=(--floor-path /health)
    taskset -c 1 timeout 120 "$GEN" publish "${what[@]}" --duration "$SECS" --conns "$CONNS" --warmup 1 \
      --port $PORT --server-pid $pid --label $s --tag "rep$rep" 2>>"$OUT/log.txt" >>"$OUT/results.jsonl" || true
    kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  done
done
python3 - "$OUT/results.jsonl" <<'PY' | tee "$OUT/floor.md"
import json, sys
by = {}
for l in open(sys.argv[1]):
    if l.strip():
        r = json.loads(l); by.setdefault(r["tag"], {})[r["label"]] = r["runs"][0]["req_per_s"]
print("| rep | node publish req/s | switchboard publish req/s | switchboard GET /health req/s | publish / node | floor / node | publish / floor |")
print("|---|---|---|---|---|---|---|")
for t, v in sorted(by.items()):
    n, p, f = v.get("node", 0), v.get("switchboard", 0), v.get("floor", 0)
    ratio = lambda a, b: f"{a / b:.2f}" if b else "–"
    print(f"| {t[3:]} | {n:.0f} | {p:.0f} | {f:.0f} | {ratio(p, n)}× | {ratio(f, n)}× | {ratio(p, f)} |")
PY
