#!/usr/bin/env bash
# End-to-end benchmark of the switchboard binary against the Node baseline (express +
# socket.io 4.8, bench/baselines/node) and crates/sio's bench-peer (the engine floor).
#
#   bench/run.sh [OUTDIR]          full run (~15 min), default OUTDIR bench/results/<UTC date-time>
#   bench/run.sh --smoke [OUTDIR]  CI: tiny sizes, a few seconds per server, both servers;
#                                  fails only when a server does not serve (not on numbers)
#
# Every measurement starts a fresh server pinned to CPU 0 (taskset -c 0) and the generator
# pinned to CPU 1; servers alternate A B A B within each scenario. Loopback only.
# Writes OUTDIR/results.jsonl (one JSON line per measurement), OUTDIR/summary.md (tables),
# OUTDIR/log.txt (the generator's human summaries), OUTDIR/server-*.log.
#
# Env knobs (full mode defaults): SERVERS ("switchboard node peer"; also "sb-nodelay": switchboard
#   with TCP_NODELAY forced by an LD_PRELOAD shim, a diagnostic; "sb-base": the switchboard binary at
#   SB_BASE, e.g. the previous commit's build, measured in the same run as the baseline of a change; "sb-deflate":
#   switchboard with SWITCHBOARD_COMPRESSION=1, see bench/compression.sh; "sb-2core": switchboard on both
#   CPUs, the generator still on CPU 1), REPS (2), SLOW_PAYLOAD (1000 B; 100 in smoke),
#   GEN_FANOUT_ARGS / GEN_CONNECT_ARGS (extra generator options for the fanout / connect scenarios,
#   e.g. "--deflate 1 --kpi-payload 4096"),
#   SCENARIOS ("connect fanout publish slow rooms10 polling"), CONNECT_CLIENTS (10000), CONNECT_RATE (1000),
#   HOLD (10), FANOUT_RATES ("50,...,1200,1600,2000,2400,2700,3000,3300,3600,4200,4800,5400,6000"), STEP_S (6), PREWARM (5),
#   ROOMS10_RATE (1000), ROOMS10_S (20), PUBLISH_S (5), PUBLISH_CONNS (16), HTTP_CONNS (256: one
#   request in flight per connection, so at R publishes/s a round trip must stay under
#   HTTP_CONNS/R s; with 8 or 64 the publisher, not the server, ended the fan-out),
#   SLOW_RATE (300; node: NODE_SLOW_RATE 50), SLOW_S (30: 9 000 x 1 KB behind, more than the 4 096-packet queue plus the ~3.6 MB the kernel holds, so the server must act), POLLING_CLIENTS (1000), POLLING_RATE (100),
#   POLLING_S (20), WAIT_IDLE (900: seconds to wait, before
#   each measurement, for other benchmarks to end and for the CPUs to be below IDLE_MAX_PCT (30) % of
#   a core; 0 in smoke mode).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

SMOKE=0
if [ "${1:-}" = "--smoke" ]; then SMOKE=1; shift; fi
OUT=${1:-bench/results/$(date -u +%Y-%m-%dT%H%M%SZ)$([ $SMOKE = 1 ] && echo -smoke)}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

if [ $SMOKE = 1 ]; then
  SERVERS=${SERVERS:-"switchboard node"}; REPS=${REPS:-1}
  SCENARIOS=${SCENARIOS:-"connect fanout publish slow polling"}
  CONNECT_CLIENTS=${CONNECT_CLIENTS:-50}; CONNECT_RATE=${CONNECT_RATE:-500}; HOLD=${HOLD:-1}
  FANOUT_CLIENTS=${FANOUT_CLIENTS:-20}; FANOUT_RATES=${FANOUT_RATES:-"20"}; STEP_S=${STEP_S:-2}; PREWARM=${PREWARM:-0}
  PUBLISH_S=${PUBLISH_S:-1}; PUBLISH_CONNS=${PUBLISH_CONNS:-4}; PUBLISH_ROOMS=${PUBLISH_ROOMS:-"1,10"}
  SLOW_RATE=${SLOW_RATE:-20}; NODE_SLOW_RATE=${NODE_SLOW_RATE:-20}; SLOW_S=${SLOW_S:-1}
  POLLING_CLIENTS=${POLLING_CLIENTS:-20}; POLLING_RATE=${POLLING_RATE:-20}; POLLING_S=${POLLING_S:-2}
  WAIT_IDLE=${WAIT_IDLE:-0}; DRAIN=${DRAIN:-3}
else
  SERVERS=${SERVERS:-"switchboard node peer"}; REPS=${REPS:-2}
  SCENARIOS=${SCENARIOS:-"connect fanout publish slow rooms10 polling"}
  CONNECT_CLIENTS=${CONNECT_CLIENTS:-10000}; CONNECT_RATE=${CONNECT_RATE:-1000}; HOLD=${HOLD:-10}
  FANOUT_CLIENTS=${FANOUT_CLIENTS:-1000}; FANOUT_RATES=${FANOUT_RATES:-"50,100,200,300,400,500,600,800,1000,1200,1600,2000,2400,2700,3000,3300,3600,4200,4800,5400,6000"}
  STEP_S=${STEP_S:-6}; PREWARM=${PREWARM:-5}
  PUBLISH_S=${PUBLISH_S:-5}; PUBLISH_CONNS=${PUBLISH_CONNS:-16}; PUBLISH_ROOMS=${PUBLISH_ROOMS:-"1,10,100"}
  SLOW_RATE=${SLOW_RATE:-300}; NODE_SLOW_RATE=${NODE_SLOW_RATE:-50}; SLOW_S=${SLOW_S:-30}; SLOW_PAYLOAD=${SLOW_PAYLOAD:-1000}
  POLLING_CLIENTS=${POLLING_CLIENTS:-1000}; POLLING_RATE=${POLLING_RATE:-100}; POLLING_S=${POLLING_S:-20}
  WAIT_IDLE=${WAIT_IDLE:-900}; DRAIN=${DRAIN:-5}
fi
GEN_FANOUT_ARGS=${GEN_FANOUT_ARGS:-}; GEN_CONNECT_ARGS=${GEN_CONNECT_ARGS:-}
SLOW_PAYLOAD=${SLOW_PAYLOAD:-100}; ROOMS10_RATE=${ROOMS10_RATE:-1000}; ROOMS10_S=${ROOMS10_S:-20}; HTTP_CONNS=${HTTP_CONNS:-256}

TARGET=${CARGO_TARGET_DIR:-target}   # where cargo puts the workspace's binaries
SB=$TARGET/release/switchboard
PEER=$TARGET/release/examples/bench-peer
GEN=${SB_BENCH:-bench/generator/target/release/sb-bench}   # SB_BENCH: another generator binary (A/B of the generator itself)
NODE_DIR=bench/baselines/node
P_SB=3201; P_NODE=3202; P_PEER=3203

log() { echo "$*" | tee -a "$OUT/log.txt" >&2; }

# ---- build (the same cargo invocation as scripts/test.sh: a no-op after it)
log "== build"
cargo build --release -q -p sio -p switchboard --bins --examples   # --examples alone would skip the switchboard binary
(cd bench/generator && CARGO_TARGET_DIR=target cargo build --release -q)   # its own target dir
if [[ " $SERVERS " == *" node "* ]] && [ ! -f "$NODE_DIR/node_modules/socket.io/package.json" ]; then
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error
fi

# ---- the env names that switch the limits off must really be honoured
SB_ENV=(SWITCHBOARD_RATE_LIMIT_PER_SEC=0 SWITCHBOARD_MAX_CONNECTIONS_PER_IP=0)
cfg=$(env "${SB_ENV[@]}" "$SB" check-config 2>&1)
if ! grep -q '^rate_limit_per_sec = 0$' <<<"$cfg" || ! grep -q '^max_connections_per_ip = 0$' <<<"$cfg"; then
  echo "switchboard check-config did not take ${SB_ENV[*]}:" >&2; echo "$cfg" >&2; exit 1
fi

# 10k connections need ~10k fds per process (1000 polling clients: ~2000, a GET and a POST
# connection each); this sandbox's hard limit is 20000.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  mode: $([ $SMOKE = 1 ] && echo smoke || echo full)"
  echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r), ulimit -n $(ulimit -n)"
  echo "switchboard: $(git log -1 --format='%h %s' 2>/dev/null | cut -c1-80)$(git diff --quiet HEAD -- crates 2>/dev/null || echo ' (+ uncommitted changes in crates/)')"
  echo "rustc: $(rustc --version)  node: $(node --version)"
  if [ -f "$NODE_DIR/node_modules/socket.io/package.json" ]; then
    echo "node baseline: express $(node -p "require('./$NODE_DIR/node_modules/express/package.json').version") socket.io $(node -p "require('./$NODE_DIR/node_modules/socket.io/package.json').version") ws $(node -p "require('./$NODE_DIR/node_modules/ws/package.json').version")"
  fi
  echo "switchboard env: ${SB_ENV[*]}"
} >"$OUT/env.txt"
cat "$OUT/env.txt" >&2

# ---- wait until no other benchmark runs and the CPUs are quiet: on 2 cores, anything else
# running steals the pinned server's or generator's core and the figures mean nothing.
others() {
  ps -eo pid=,comm=,args= | awk -v me=$$ '
    $1 != me && ($2 ~ /^(bench\.sh|sio-bench|bench-peer|sio-peer-|sb-bench)/ || $0 ~ /sio-bench\/peers\// ||
                 $0 ~ /switchboard[ ]serve/) { print $1 " " $2 }'
}
busy_pct() { # CPU used on the whole machine over 1 s, in % of one core
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat); sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN{split(a,x," ");split(b,y," ");t=y[1]-x[1];i=y[2]-x[2];
    printf "%d", (t>0 ? (t-i)*100*n/t : 0)}'
}
IDLE_MAX_PCT=${IDLE_MAX_PCT:-30}
wait_idle() {
  [ "$WAIT_IDLE" -gt 0 ] || return 0
  local waited=0 b
  while :; do
    b=$(busy_pct)
    if [ -z "$(others)" ] && [ "$b" -le "$IDLE_MAX_PCT" ]; then break; fi
    if [ $waited -eq 0 ]; then log "waiting: other benchmarks [$(others | tr '\n' ' ')], machine busy ${b}% of a core"; fi
    if [ $waited -ge "$WAIT_IDLE" ]; then log "still busy after ${WAIT_IDLE}s (${b}% of a core), measuring anyway"; break; fi
    sleep 4; waited=$((waited + 5))
  done
  [ $waited -eq 0 ] || log "waited ${waited}s"
  log "machine busy before this measurement: ${b}% of a core"
}

SPID=""
start_server() { # name tag
  local name=$1 log="$OUT/server-$1-$2.log" port
  port=$(port_of "$name")
  case $name in
    switchboard) env "${SB_ENV[@]}" taskset -c 0 "$SB" serve --listen "127.0.0.1:$port" --database-url sqlite::memory: >"$log" 2>&1 & ;;
    sb-deflate)  env "${SB_ENV[@]}" SWITCHBOARD_COMPRESSION=1 taskset -c 0 "$SB" serve --listen "127.0.0.1:$port" \
                   --database-url sqlite::memory: >"$log" 2>&1 & ;;
    sb-base)     [ -x "${SB_BASE:-}" ] || { log "sb-base needs SB_BASE=<a switchboard binary>"; return 1; }
                 env "${SB_ENV[@]}" taskset -c 0 "$SB_BASE" serve --listen "127.0.0.1:$port" --database-url sqlite::memory: >"$log" 2>&1 & ;;
    # two-core scaling (issue 16): the server may use both CPUs (one tokio worker per CPU);
    # the generator stays on CPU 1, so the two share it
    sb-2core)    env "${SB_ENV[@]}" taskset -c 0,1 "$SB" serve --listen "127.0.0.1:$port" --database-url sqlite::memory: >"$log" 2>&1 & ;;
    node)        taskset -c 0 node "$NODE_DIR/server.js" "$port" >"$log" 2>&1 & ;;
    peer)        taskset -c 0 "$PEER" "$port" >"$log" 2>&1 & ;;
    # diagnostic: switchboard with TCP_NODELAY forced on accepted sockets (bench/diag/nodelay.c)
    sb-nodelay)  so="${TMPDIR:-/tmp}/sb-bench-nodelay.so"; gcc -shared -fPIC -O2 -o "$so" bench/diag/nodelay.c -ldl
                 env "${SB_ENV[@]}" LD_PRELOAD="$so" taskset -c 0 "$SB" serve --listen "127.0.0.1:$port" \
                   --database-url sqlite::memory: >"$log" 2>&1 & ;;
  esac
  SPID=$!
  for _ in $(seq 150); do grep -q listening "$log" 2>/dev/null && break; kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if ! grep -q listening "$log"; then
    log "server $name did not start:"; cat "$log" >&2; stop_server; return 1
  fi
  sleep 0.5
}
stop_server() {
  [ -n "$SPID" ] || return 0
  kill -INT "$SPID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}
trap stop_server EXIT
port_of() { case $1 in switchboard) echo $P_SB ;; node) echo $P_NODE ;; peer) echo $P_PEER ;; sb-nodelay) echo 3204 ;; sb-base) echo 3205 ;; sb-deflate) echo 3206 ;; sb-2core) echo 3207 ;; esac; }

FAILED=0
gen() { # server scenario args...
  local s=$1 tag=$2 line rc=0; shift 2
  line=$(taskset -c 1 timeout 900 "$GEN" "$@" --port "$(port_of "$s")" --server-pid "$SPID" --label "$s" --tag "$tag" \
           2> >(tee -a "$OUT/log.txt" >&2)) || rc=$?
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    log "generator failed (exit $rc) for $s $tag"; FAILED=1; return 0
  fi
  echo "$line" >>"$OUT/results.jsonl"
  if ! grep -q '"ok":true' <<<"$line"; then log "NOT SERVED: $s $tag"; FAILED=1; fi
}

supports() { # server scenario
  case "$1:$2" in
    peer:connect|peer:publish|peer:slow) return 1 ;;
    *) return 0 ;;
  esac
}

for scen in $SCENARIOS; do
  for rep in $(seq "$REPS"); do
    for s in $SERVERS; do
      supports "$s" "$scen" || continue
      wait_idle
      log "=== $scen rep $rep: $s ($(date -u +%H:%M:%S))"
      if ! start_server "$s" "$scen-$rep"; then FAILED=1; continue; fi
      proto=erp; [ "$s" = peer ] && proto=peer
      case $scen in
        connect) gen "$s" connect connect --clients "$CONNECT_CLIENTS" --rate "$CONNECT_RATE" --hold "$HOLD" $GEN_CONNECT_ARGS ;;
        fanout)  gen "$s" fanout fanout --proto $proto --clients "$FANOUT_CLIENTS" --rooms 1 --rates "$FANOUT_RATES" \
                   --duration "$STEP_S" --prewarm "$PREWARM" --prewarm-rate 25 --drain "$DRAIN" --http-conns "$HTTP_CONNS" \
                   $GEN_FANOUT_ARGS ;;
        rooms10) gen "$s" rooms10 fanout --proto $proto --clients 1000 --rooms 10 --rates "$ROOMS10_RATE" \
                   --duration "$ROOMS10_S" --prewarm "$PREWARM" --prewarm-rate 200 --drain 10 --http-conns "$HTTP_CONNS" ;;
        publish) gen "$s" publish publish --room-counts "$PUBLISH_ROOMS" --duration "$PUBLISH_S" --conns "$PUBLISH_CONNS" \
                   --warmup "$( [ $SMOKE = 1 ] && echo 0.3 || echo 2 )" ;;
        slow)    r=$SLOW_RATE; [ "$s" = node ] && r=$NODE_SLOW_RATE
                 gen "$s" slow fanout --proto $proto --clients "$FANOUT_CLIENTS" --rooms 1 --rates "$r,$r" --duration "$SLOW_S" --payload "$SLOW_PAYLOAD" \
                   --prewarm "$PREWARM" --prewarm-rate 25 --slow 1 --slow-pause-step 1 --stop-on-fail 0 \
                   --drain "$DRAIN" --http-conns "$HTTP_CONNS" ;;
        polling) gen "$s" polling polling --proto $proto --clients "$POLLING_CLIENTS" --rooms 1 --rates "$POLLING_RATE" \
                   --duration "$POLLING_S" --prewarm "$PREWARM" --prewarm-rate 25 --stop-on-fail 0 --drain "$DRAIN" \
                   --http-conns "$HTTP_CONNS" ;;
        *) log "unknown scenario $scen"; FAILED=1 ;;
      esac
      stop_server
      sleep 1
    done
  done
done

python3 bench/summarize.py "$OUT/results.jsonl" "$OUT/env.txt" >"$OUT/summary.md" || { log "summarize failed"; FAILED=1; }
cat "$OUT/summary.md" >&2
log "results: $OUT"
if [ $FAILED -ne 0 ]; then log "FAILED: a server did not serve (see above)"; exit 1; fi
