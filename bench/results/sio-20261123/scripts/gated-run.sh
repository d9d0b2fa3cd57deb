#!/usr/bin/env bash
# Re-run of bench.sh, one measurement (scenario x rep x server) per bench.sh call, in the
# same A B C A B C order, with (1) a quiet gate before each measurement: wait (max GATE_MAX s)
# until the whole machine was >= 95 % idle for 5 consecutive seconds, and (2) the bench
# processes (server and generator, both started by bench.sh) at nice -10, so that other
# users' compilations on this shared VM get a smaller CPU share while a measurement runs.
# bench.sh itself is unchanged; parts/ holds each call's output, results.jsonl is their concatenation.
set -euo pipefail
cd "$(dirname "$0")"
OUT=$1; mkdir -p "$OUT/parts"
REPS=${REPS:-2}; SERVERS=${SERVERS:-"raw socketioxide sio"}; SCENARIOS=${SCENARIOS:-"fanoutB connect"}
GATE_MAX=${GATE_MAX:-90}
idle_pct() { # % idle of both CPUs over 1 s
  read -r _ a b c d e f g h _ < <(grep '^cpu ' /proc/stat); sleep 1
  read -r _ A B C D E F G H _ < <(grep '^cpu ' /proc/stat)
  local busy=$(( (A+B+C+F+G+H) - (a+b+c+f+g+h) )) idle=$(( (D+E) - (d+e) ))
  echo $(( 100 * idle / (busy + idle + 1) ))
}
gate() {
  local ok=0 t0=$SECONDS
  while (( SECONDS - t0 < GATE_MAX )); do
    if (( $(idle_pct) >= 95 )); then ok=$((ok+1)); (( ok >= 5 )) && { echo "quiet after $((SECONDS-t0)) s"; return; }; else ok=0; fi
  done
  echo "NOT quiet after ${GATE_MAX} s, running anyway"
}
n=0
for scen in $SCENARIOS; do for rep in $(seq "$REPS"); do for s in $SERVERS; do
  n=$((n+1)); part="$OUT/parts/$(printf %02d $n)-$scen-$rep-$s"
  g=$(gate); echo "=== part $n $scen rep $rep $s: gate: $g ($(date -u +%H:%M:%S))" | tee -a "$OUT/gate.log"
  REPS=1 SERVERS=$s SCENARIOS=$scen nice -n -10 ./bench.sh "$part" >"$part.out" 2>&1 || echo "part $n exit $?" | tee -a "$OUT/gate.log"
  echo "    end $(date -u +%H:%M:%S)" >> "$OUT/gate.log"
  cat "$part/results.jsonl" >> "$OUT/results.jsonl"
  { echo "=== $scen rep $rep server $s (part $n; gate: $g)"; grep -v '^===' "$part/summary.txt"; } >> "$OUT/summary.txt"
done; done; done
echo "done: $OUT" | tee -a "$OUT/gate.log"
