#!/usr/bin/env bash
# Soak benchmark (issue 12; not run in CI): mixed load (bench/soak.mjs) against one
# switchboard for DURATION seconds (default 1800), sampling the server's RSS, open file
# descriptors, sessions and the busiest client address every SAMPLE seconds (default 60).
#   bench/soak.sh [OUT_DIR]        # default bench/results/soak-<UTC date-time>
#   DURATION=120 SAMPLE=10 bench/soak.sh /tmp/soak   # a short run
# Writes OUT_DIR/samples.jsonl (server side), OUT_DIR/load.jsonl (client totals per minute),
# OUT_DIR/summary.md (first vs last samples and the RSS trend per hour).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-1800}
SAMPLE=${SAMPLE:-60}
PORT=${PORT:-3301}
OUT=${1:-bench/results/soak-$(date -u +%Y-%m-%dT%H-%M)}
mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null || true
[ -d e2e/node_modules ] || npm ci --prefix e2e --no-audit --no-fund
cargo build --release -p switchboard --bin switchboard
BIN=${CARGO_TARGET_DIR:-target}/release/switchboard

"$BIN" serve --listen "127.0.0.1:$PORT" --database-url sqlite::memory: >"$OUT/server.log" 2>&1 &
SRV=$!
trap 'kill $SRV $LOAD 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

URL="http://127.0.0.1:$PORT" DURATION="$DURATION" node bench/soak.mjs >"$OUT/load.jsonl" &
LOAD=$!
: >"$OUT/samples.jsonl"
sample() {
  local rss fds stats
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SRV/status")
  fds=$(ls "/proc/$SRV/fd" | wc -l)
  stats=$(curl -sf "http://127.0.0.1:$PORT/api/v1/stats" || echo '{}')
  python3 - "$rss" "$fds" "$stats" >>"$OUT/samples.jsonl" <<'EOF'
import json, sys, time
rss, fds, stats = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]).get("data", {})
c = stats.get("counters", {})
print(json.dumps({"t": int(time.time()), "rss_kib": rss, "fds": fds,
  "connections": stats.get("connections"), "transports": stats.get("transports"),
  "addresses": stats.get("addresses"), "slow_consumers": c.get("slow_consumers"),
  "recoveries": c.get("recoveries"), "ip_refused": c.get("ip_refused"),
  "recovery_evicted": c.get("recovery_evicted"), "recovery_trimmed": c.get("recovery_trimmed")}))
EOF
}
END=$(( $(date +%s) + DURATION ))
while [ "$(date +%s)" -lt "$END" ] && kill -0 $LOAD 2>/dev/null; do
  sample
  sleep "$SAMPLE"
done
wait $LOAD || true
sleep 3   # let the last disconnects land
sample

python3 - "$OUT" >"$OUT/summary.md" <<'EOF'
import json, sys
out = sys.argv[1]
s = [json.loads(l) for l in open(f"{out}/samples.jsonl") if l.strip()]
load = [json.loads(l) for l in open(f"{out}/load.jsonl") if l.strip()]
first, last = s[1] if len(s) > 2 else s[0], s[-2] if len(s) > 2 else s[-1]
n = len(s) - 1
# The trend after the first third: the recovery window (120 s) and the allocator's arenas
# fill during warm-up; a leak keeps climbing after that.
tail = s[1:-1][len(s[1:-1]) // 3:] or s
xs = [x["t"] for x in tail]
ys = [x["rss_kib"] for x in tail]
mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
den = sum((x - mx) ** 2 for x in xs) or 1
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 3600 / 1024
print(f"# soak: {len(s)} samples over {s[-1]['t'] - s[0]['t']} s\n")
print("| | first (after warm-up) | last under load | after the load stopped |\n|---|---|---|---|")
for k in ["rss_kib", "fds", "connections", "slow_consumers", "recoveries", "ip_refused", "recovery_evicted"]:
    print(f"| {k} | {first.get(k)} | {last.get(k)} | {s[-1].get(k)} |")
print(f"| busiest address | {first.get('addresses')} | {last.get('addresses')} | {s[-1].get('addresses')} |")
print(f"\nRSS trend under load after the first third (least squares): {slope:+.1f} MiB per hour")
if load:
    print(f"\nclient totals: `{json.dumps(load[-1])}`")
EOF
cat "$OUT/summary.md"
