#!/usr/bin/env bash
# Router alone under the load generator, for finding where its CPU goes (not a comparison: that
# is scripts/bench.sh). Starts a sink (relay) and a router with a generated config on free
# loopback ports, warms up, drives one measured run with `loadtest run`, waits until every
# message is delivered, and prints end-to-end msg/s, p99 acceptance latency and the router's CPU
# milliseconds per message. With PROFILE_PERF=1 it also samples the router with perf(1) during
# the measured run and prints the top shared objects and symbols (managed frames resolved
# through the runtime's perf map).
#
# Environment (defaults in brackets):
#   PROFILE_SCENARIO [relay]   relay (4 KiB to a loopback sink), maildir (one local mailbox) or
#                              backlog (relay to a destination that refuses connections: the queue
#                              grows by every message; done when each is queued, its accept line
#                              logged: the destination is suspended after its first failed round, so
#                              the messages behind it are not each tried: README, "How it works")
#   PROFILE_MESSAGES [6000]    measured messages      PROFILE_WARMUP [20000]  warm-up messages
#   PROFILE_SIZE [4096]        message size in bytes   PROFILE_CONNECTIONS [50]
#   PROFILE_DRIVER [loadtest] loadtest (pipelined) or smtp-source (Postfix's, one command per round trip)
#   PROFILE_PERF [0]           1 = record with perf (installs linux-perf with apt when missing)
#   PROFILE_PERF_DATA [""]     with PROFILE_PERF=1: keep perf.data here (and the perf map beside it)
#   PROFILE_THREADS [0]        1 = print the router's threads (by name) with their CPU ms and
#                              context switches (voluntary / involuntary) per 1,000 messages
#   PROFILE_ENV [""]           extra environment for the router, e.g. "DOTNET_TieredCompilation=0"
#                              (the router runs with DOTNET_TC_CallCountingDelayMs=0, as bench.sh and
#                              run.sh run it)
#   PROFILE_HOCON [""]         extra settings for the router's configuration, e.g.
#                              "router.smtp.sessions-on-socket-threads = off"
#   PROFILE_ARTIFACTS [/tmp/router-bench-artifacts]  build output (shared with bench.sh)
#   PROFILE_SKIP_BUILD [0]     1 = use what PROFILE_ARTIFACTS holds
#   PROFILE_TMP [/tmp]         where the run's folder (router data, Maildir, spool) is made; a
#                              tmpfs such as /dev/shm takes the disk and ext4 out of the picture
#   PROFILE_KEEP [0]           1 = keep the run's folder. Runs in a row on this VM's ext4 (no journal)
#                              should: deleting a run's files slows the next run's file creation for
#                              minutes (docs/PERFORMANCE.md, "recently deleted" inodes)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
SCENARIO=${PROFILE_SCENARIO:-relay}
MESSAGES=${PROFILE_MESSAGES:-6000}
WARMUP=${PROFILE_WARMUP:-20000}
SIZE=${PROFILE_SIZE:-4096}
CONNECTIONS=${PROFILE_CONNECTIONS:-50}
ART=${PROFILE_ARTIFACTS:-/tmp/router-bench-artifacts}

log() { printf '[profile %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# build_router_and_loadtest, free_port, wait_port, router_bench_config
. "$root/scripts/lib/bench-common.sh"

DRIVER=${PROFILE_DRIVER:-loadtest}
case "$DRIVER" in loadtest) ;; smtp-source) command -v smtp-source >/dev/null || die "smtp-source is needed (apt install postfix)" ;; *) die "PROFILE_DRIVER is loadtest or smtp-source" ;; esac
case "$SCENARIO" in relay | backlog) to=u@remote.test ;; maildir) to=user@local.test ;; *) die "PROFILE_SCENARIO is relay, maildir or backlog" ;; esac
command -v jq >/dev/null || die "jq is needed"
if [ "${PROFILE_PERF:-0}" = 1 ] && ! command -v perf >/dev/null; then
  log "installing linux-perf"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >&2; }
fi
build_router_and_loadtest "$ART" "${PROFILE_SKIP_BUILD:-0}"


W=$(mktemp -d "${PROFILE_TMP:-/tmp}/router-profile.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${PROFILE_KEEP:-0}" = 1 ]; then log "run folder kept: $W"; else rm -rf "$W"; fi
  [ -n "${router:-}" ] && rm -f "/tmp/perf-$router.map" "/tmp/jit-$router.dump"
}
trap cleanup EXIT

smtp=$(free_port); sink=$(free_port)
{ router_bench_config "$W/data" "$smtp" "$sink"; printf '%s\n' "${PROFILE_HOCON:-}"; } > "$W/router.hocon"

if [ "$SCENARIO" = relay ]; then
  dotnet "$LOADTEST_DLL" sink --listen "127.0.0.1:$sink" --stats-file "$W/sink.json" > "$W/sink.log" 2>&1 &
  pids+=($!)
  wait_port "$sink" 30 || die "the sink did not start"
fi
# The runtime's perf map (/tmp/perf-PID.map, removed at the end) lets perf name managed frames.
perfmap=""
[ "${PROFILE_PERF:-0}" = 1 ] && perfmap="DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0"
# shellcheck disable=SC2086
env $perfmap DOTNET_TC_CallCountingDelayMs=0 ${PROFILE_ENV:-} dotnet "$ROUTER_DLL" --config "$W/router.hocon" > "$W/router.log" 2>&1 &
router=$!
pids+=("$router")
wait_port "$smtp" 60 || die "the router did not start: $(tail -5 "$W/router.log")"

delivered() {
  if [ "$SCENARIO" = relay ]; then jq .messages "$W/sink.json" 2>/dev/null || echo 0
  elif [ "$SCENARIO" = backlog ]; then grep -c ": from=<bench@client.test> size=" "$W/router.log" || true
  else find "$W/data/maildir" -path '*/new/*' -type f 2>/dev/null | wc -l; fi
}
drive() { # COUNT OUTFILE
  if [ "$DRIVER" = smtp-source ]; then
    smtp-source -d -s "$CONNECTIONS" -m "$1" -l "$SIZE" -f bench@client.test -t "$to" -M client.test "127.0.0.1:$smtp"
    printf '{"accepted": %d, "latencyP99Ms": null}\n' "$1" > "$2"
  else
    dotnet "$LOADTEST_DLL" run --target "127.0.0.1:$smtp" --connections "$CONNECTIONS" --messages "$1" \
      --size "$SIZE" --to "$to" --from bench@client.test --json --quiet > "$2"
  fi
}
wait_delivered() { # TOTAL
  local i n=0
  for i in $(seq 1200); do
    n=$(delivered)
    [ "$n" -ge "$1" ] && return 0
    sleep 0.05
  done
  die "only $n of $1 messages delivered"
}

if [ "$WARMUP" -gt 0 ]; then
  log "warm-up: $WARMUP messages ($SCENARIO, $SIZE bytes, $CONNECTIONS sessions)"
  for n in $(warmup_rounds "$WARMUP"); do drive "$n" "$W/warm.json"; done
  wait_delivered "$WARMUP"
fi

if [ "${PROFILE_PERF:-0}" = 1 ]; then
  perf record -F 499 -g -p "$router" -o "$W/perf.data" > "$W/perf.log" 2>&1 &
  perf_pid=$!
fi
# One line per thread: name, utime+stime ticks, voluntary and involuntary context switches.
threads() {
  local t
  for t in /proc/"$router"/task/*; do
    printf '%s\t%s\t%s\t%s\n' "$(cat "$t/comm" 2>/dev/null)" "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{ print $12 + $13 }')" \
      "$(awk '/^voluntary_ctxt/ { print $2 }' "$t/status" 2>/dev/null)" "$(awk '/^nonvoluntary_ctxt/ { print $2 }' "$t/status" 2>/dev/null)"
  done
}
[ "${PROFILE_THREADS:-0}" = 1 ] && threads > "$W/threads0.tsv"
cpu0=$(awk '{ print $14 + $15 }' "/proc/$router/stat")
t0=$EPOCHREALTIME
drive "$MESSAGES" "$W/run.json"
wait_delivered $(( WARMUP + MESSAGES ))
t1=$EPOCHREALTIME
cpu1=$(awk '{ print $14 + $15 }' "/proc/$router/stat")
[ "${PROFILE_THREADS:-0}" = 1 ] && threads > "$W/threads1.tsv"
ticks=$(getconf CLK_TCK)
awk -v n="$MESSAGES" -v s="$(awk "BEGIN { print $t1 - $t0 }")" -v c=$(( cpu1 - cpu0 )) -v t="$ticks" \
  -v p99="$(jq .latencyP99Ms "$W/run.json")" -v acc="$(jq .accepted "$W/run.json")" \
  'BEGIN { printf "%d messages accepted of %d; end to end %.0f msg/s; p99 accept %s ms; router CPU %.3f ms per message\n", acc, n, n / s, p99, c * 1000 / t / n }'

if [ "${PROFILE_THREADS:-0}" = 1 ]; then
  echo "--- threads by name: count, CPU ms, voluntary / involuntary switches per 1,000 messages (threads that ended during the run are missing)"
  # Threads are told apart by name only; a thread born during the run counts from zero.
  awk -F'\t' -v n="$MESSAGES" -v t="$(getconf CLK_TCK)" '
    NR == FNR { c0[$1] += $2; v0[$1] += $3; i0[$1] += $4; next }
    { k[$1]++; c[$1] += $2; v[$1] += $3; i[$1] += $4 }
    END { for (x in k) printf "%-28s %3d %8.1f %8.0f %8.0f\n", x, k[x], (c[x] - c0[x]) * 1000 / t * 1000 / n, (v[x] - v0[x]) * 1000 / n, (i[x] - i0[x]) * 1000 / n }' \
    "$W/threads0.tsv" "$W/threads1.tsv" | sort -k3 -n -r
fi

if [ "${PROFILE_PERF:-0}" = 1 ]; then
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  [ -n "${PROFILE_PERF_DATA:-}" ] && cp "$W/perf.data" "$PROFILE_PERF_DATA" && cp /tmp/perf-"$router".map "$PROFILE_PERF_DATA.map" 2>/dev/null
  echo "--- shared objects"
  perf report -i "$W/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep . | head -10
  echo "--- symbols (self)"
  perf report -i "$W/perf.data" --no-children --sort sym -g none 2>/dev/null | grep -v '^#' | grep . | head -25 | cut -c1-200
  echo "--- symbols (with callees), Router and library frames"
  perf report -i "$W/perf.data" --children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -E '\[(Router|Akka|linq2db|Newtonsoft|System)' | head -30 | cut -c1-200
fi
