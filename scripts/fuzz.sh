#!/usr/bin/env bash
# Bounded coverage-guided fuzzing (cargo fuzz / libFuzzer) of the parsers that see client
# input: every target in fuzz/ for ${FUZZ_SECONDS:-60} s, starting from the committed seed
# corpora in fuzz/corpus/<target>/. Fails on the first crash, panic, overflow or
# sanitizer report; the input is left in fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            # longer
#   FUZZ_TARGETS="ws_frame" scripts/fuzz.sh     # some targets only
#   FUZZ_SANITIZER=none scripts/fuzz.sh         # without AddressSanitizer
#   FUZZ_SEED=7 scripts/fuzz.sh                 # another mutation sequence (default 1, so CI is repeatable)
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it take cargo fuzz's -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
targets=${FUZZ_TARGETS:-"sio_packet sio_msgpack ws_frame ws_inflate polling_payload rules_template jwt_extract"}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# One build of every target (own target dir: fuzz/target), with debug assertions so
# integer overflow panics too.
cargo fuzz build --debug-assertions --sanitizer "$sanitizer"

# New inputs go to a scratch directory, so the committed seeds stay as they are. libFuzzer
# logs every new coverage point; the full log is kept next to it, the summary printed.
scratch=$PWD/fuzz/target/corpus-run
for t in $targets; do
  echo "-- fuzz $t (${seconds}s)"
  mkdir -p "$scratch/$t" "fuzz/corpus/$t"
  log=$scratch/$t.log
  # -timeout: one input may take at most 10 s; the outer timeout bounds the whole run,
  # including a rebuild `cargo fuzz run` may do first (minutes on a busy 2-core machine:
  # a tighter bound interrupted the fuzzer seconds after it started).
  if ! timeout -k 10 $((seconds + 900)) \
    cargo fuzz run --debug-assertions --sanitizer "$sanitizer" "$t" \
      "$scratch/$t" "$PWD/fuzz/corpus/$t" -- \
      -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      </dev/null >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "!! fuzz target $t failed (full log: $log); reproduce with:" >&2
    echo "   RUSTC_BOOTSTRAP=1 cargo fuzz run -a $t fuzz/artifacts/$t/<file>" >&2
    ls -l "fuzz/artifacts/$t" >&2 2>/dev/null || true
    exit 1
  fi
  grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::)' "$log" || true
done
echo "fuzzing: no crash in $(wc -w <<<"$targets") targets x ${seconds}s"
