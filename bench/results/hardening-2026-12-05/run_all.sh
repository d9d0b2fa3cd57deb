#!/bin/sh
# Every attack against the old then the new binary, back to back; one JSON line each.
OLD=/tmp/sb-old-target/release/switchboard
NEW=/tmp/sb-new-target/release/switchboard
OUT=${1:-/tmp/attacks/results.jsonl}
: > "$OUT"
for a in ping-flood ping-flood-big clientinfo-loop clientinfo-loop-norecovery attachments handshakes handshakes-15k per-ip-leak per-ip-leak-close one-ip-load-test slow-consumer slow-consumer-norecovery; do
  echo "$a: $(uptime) rustc=$(pgrep -c rustc)" >&2
  timeout 120 python3 bench/attacks.py "$OLD" "$a" --label old | tee -a "$OUT"
  sleep 2
  timeout 120 python3 bench/attacks.py "$NEW" "$a" --label new | tee -a "$OUT"
  sleep 2
done
