#!/usr/bin/env bash
# permessage-deflate (issue 16): switchboard with compression off vs on, in the same run,
# alternating A B A B (bench/run.sh does the pinning: server on CPU 0, generator on CPU 1,
# a fresh server per measurement, waiting for a quiet machine).
#
#   bench/compression.sh [OUTDIR]     default OUTDIR bench/results/compression-<UTC date>
#
# - fanout: 1000 subscribers of one room, a 4 KB KPI list published through
#   POST /api/v1/publish at rising rates (the generator's `--kpi-payload 4096`: JSON that
#   compresses like feed data, ~3.5x, not a run of x's). Every subscriber OFFERS
#   permessage-deflate in both cases (`--deflate 1`); the "off" server declines it. Best
#   sustained deliveries/s (0 lost, p99 <= 100 ms) and bytes on the wire per delivery (what
#   the subscribers read from their sockets, headers included). `--inflate-every 16`: the
#   generator inflates every 16th compressed message of a connection (latency is measured
#   on those broadcasts, every delivery is counted): inflating all 1000 copies of every
#   broadcast on its one core made the generator the limit (results/compression-2026-12-06,
#   first run: gen util 0.5, server util falling to 0.08 while latency grew).
# - connect: 10 000 clients at 1000/s, each subscribed; server RSS per idle subscribed
#   connection with compression negotiated (and off, for comparison).
#
# Knobs: REPS (2), FANOUT_RATES, CONNECT_CLIENTS (10000), WAIT_IDLE (120 s per measurement:
# on a shared 2-core machine the wait is bounded; the busy % before each run is logged).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT=${1:-bench/results/compression-$(date -u +%Y-%m-%d)}
mkdir -p "$OUT"
SERVERS="switchboard sb-deflate" SCENARIOS="${SCENARIOS:-fanout connect}" REPS=${REPS:-2} \
  FANOUT_RATES=${FANOUT_RATES:-"25,50,100,150,200,300,400,500,600,800,1000,1200,1600,2000,2400,3000"} \
  GEN_FANOUT_ARGS="--deflate 1 --kpi-payload 4096 --inflate-every 16" GEN_CONNECT_ARGS="--deflate 1" \
  WAIT_IDLE=${WAIT_IDLE:-120} \
  bench/run.sh "$OUT" || true
python3 bench/compression_summary.py "$OUT/results.jsonl" | tee "$OUT/compression.md"
