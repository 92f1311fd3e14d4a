#!/usr/bin/env bash
# Cluster scale figures: the same load against 1, 2 and 3 Router nodes (scripts/cluster.sh, one
# private PostgreSQL, one shared Maildir), spread round-robin over every node by the generator.
#
#   local   4 KiB to one of 50 local mailboxes; done when every file is in new/
#   relay   4 KiB to a relay domain routed (static route) to the counting sink; done when the
#           sink has accepted every message
#
# For each node count and scenario it prints: accepted msg/s (what clients see: 250 = durable),
# end-to-end msg/s (first MAIL to last file / last message at the sink), the generator's p50/p99,
# and the CPU seconds per 1000 messages of the router nodes and of PostgreSQL (from /proc, by
# PID). Results go to stdout and to $BENCH_OUT (default /tmp/router-bench-cluster/results.md).
#
# Environment: BENCH_NODES ["1 2 3"], BENCH_MESSAGES [4000], BENCH_CONNECTIONS [24],
# BENCH_SIZE [4096], BENCH_SCENARIOS ["local relay"], ROUTER_ARTIFACTS (see cluster.sh),
# ROUTER_PORT_OFFSET [0]. Only processes this script started are stopped, by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
NODES=${BENCH_NODES:-"1 2 3"}
MESSAGES=${BENCH_MESSAGES:-4000}
CONNECTIONS=${BENCH_CONNECTIONS:-24}
SIZE=${BENCH_SIZE:-4096}
SCENARIOS=${BENCH_SCENARIOS:-"local relay"}
base="/tmp/router-bench-cluster"
out=${BENCH_OUT:-$base/results.md}
export ROUTER_ARTIFACTS=${ROUTER_ARTIFACTS:-/tmp/router-artifacts}
offset=${ROUTER_PORT_OFFSET:-0}
loadtest="$ROUTER_ARTIFACTS/bin/Router.LoadTest/release/loadtest.dll"
sink_port=$((2600 + offset))
sink_pid=""

log() { echo "bench-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }
# build_router_and_loadtest
. "$root/scripts/lib/bench-common.sh"
now() { date +%s.%N; }

# CPU seconds (user + system) of one PID and, with "tree", its children (PostgreSQL backends).
cpu_of() {
  local pid=$1 ticks
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
  if [ "${2:-}" = tree ]; then
    local child
    for child in $(pgrep -P "$pid" || true); do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0))); done
  fi
  echo "$ticks"
}
cpu_nodes() { local n=$1 dir=$2 i sum=0; for ((i = 0; i < n; i++)); do sum=$((sum + $(cpu_of "$(cat "$dir/node$i.pid")"))); done; echo $sum; }

sink_messages() { grep -oE '"messages": *[0-9]+' "$1" 2>/dev/null | grep -oE '[0-9]+$' || echo 0; }
json_field() { grep -oE "\"$2\": *[0-9.eE+-]+" "$1" | head -n 1 | sed -E 's/.*: *//'; }

cleanup() {
  if [ -n "$sink_pid" ] && kill -0 "$sink_pid" 2>/dev/null; then kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; fi
  if [ -n "${cluster_dir:-}" ]; then ROUTER_CLUSTER_DIR="$cluster_dir" "$root/scripts/cluster.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# Waits until $1 (a command printing a number) reaches $2; fails after 300 s without progress.
wait_count() {
  local probe=$1 want=$2 last=-1 since=$SECONDS count
  while true; do
    count=$($probe)
    [ "$count" -ge "$want" ] && return 0
    if [ "$count" != "$last" ]; then last=$count; since=$SECONDS; fi
    if [ $((SECONDS - since)) -ge 300 ]; then log "stalled at $count of $want"; return 1; fi
    sleep 0.2
  done
}

mkdir -p "$base"
build_router_and_loadtest "$ROUTER_ARTIFACTS" 0
export ROUTER_SKIP_BUILD=1  # cluster.sh starts below use this build

mailboxes=(); to_args=()
for i in $(seq -w 0 49); do mailboxes+=("\"bench$i@example.test\""); to_args+=(--to "bench$i@example.test"); done
extra="$base/extra.hocon"
cat > "$extra" <<EOF
router {
  mailboxes = [$(IFS=,; echo "${mailboxes[*]}")]
  relay.transport { "relay.bench" = "127.0.0.1:$sink_port" }
  limits.max-connections = 5000
}
EOF

{
  echo "# Router cluster scale ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $MESSAGES x $SIZE B, $CONNECTIONS connections)"
  echo
  echo "| nodes | scenario | accepted msg/s | end-to-end msg/s | p50 ms | p99 ms | router CPU s/1000 msg | PostgreSQL CPU s/1000 msg |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$out"
cat "$out"

for n in $NODES; do
  cluster_dir="$base/n$n"
  ROUTER_CLUSTER_DIR="$cluster_dir" "$root/scripts/cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$cluster_dir"
  dotnet "$loadtest" sink --listen "127.0.0.1:$sink_port" --stats-file "$base/sink.json" >"$base/sink.log" 2>&1 &
  sink_pid=$!
  ROUTER_CLUSTER_DIR="$cluster_dir" ROUTER_CLUSTER_EXTRA="$extra" "$root/scripts/cluster.sh" start "$n" >"$base/cluster-n$n.log"
  targets=()
  for ((i = 0; i < n; i++)); do targets+=(--target "127.0.0.1:$((2525 + offset + i))"); done
  # Warm-up: JIT, connection pools, shard allocation of every mailbox and of the relay domain.
  dotnet "$loadtest" run "${targets[@]}" -c "$CONNECTIONS" -n 500 "${to_args[@]}" -q >/dev/null
  dotnet "$loadtest" run "${targets[@]}" -c "$CONNECTIONS" -n 200 --remote-domain relay.bench --remote-fraction 1 -q >/dev/null
  pg_pid=$(cat "$cluster_dir/postgres.pid")
  for scenario in $SCENARIOS; do
    case $scenario in
      local)
        files() { find "$cluster_dir/maildir" -path '*/new/*' -type f | wc -l; }
        want=$(( $(files) + MESSAGES )); probe=files; args=("${to_args[@]}") ;;
      relay)
        delivered() { sink_messages "$base/sink.json"; }
        wait_count delivered 200 >/dev/null
        want=$(( $(delivered) + MESSAGES )); probe=delivered; args=(--remote-domain relay.bench --remote-fraction 1) ;;
      *) log "unknown scenario $scenario"; exit 2 ;;
    esac
    cpu0=$(cpu_nodes "$n" "$cluster_dir"); pg0=$(cpu_of "$pg_pid" tree); t0=$(now)
    dotnet "$loadtest" run "${targets[@]}" -c "$CONNECTIONS" -n "$MESSAGES" --size "$SIZE" "${args[@]}" --json > "$base/run.json"
    wait_count "$probe" "$want"
    t1=$(now); cpu1=$(cpu_nodes "$n" "$cluster_dir"); pg1=$(cpu_of "$pg_pid" tree)
    hz=$(getconf CLK_TCK)
    accepted_rate=$(json_field "$base/run.json" messagesPerSecond)
    accepted=$(json_field "$base/run.json" accepted)
    p50=$(json_field "$base/run.json" latencyP50Ms); p99=$(json_field "$base/run.json" latencyP99Ms)
    line=$(awk -v n="$n" -v s="$scenario" -v m="$MESSAGES" -v a="$accepted_rate" -v t0="$t0" -v t1="$t1" -v p50="$p50" -v p99="$p99" \
      -v c="$((cpu1 - cpu0))" -v pg="$((pg1 - pg0))" -v hz="$hz" \
      'BEGIN { printf "| %d | %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |", n, s, a, m / (t1 - t0), p50, p99, c / hz / m * 1000, pg / hz / m * 1000 }')
    [ "$accepted" = "$MESSAGES" ] || line="$line (only $accepted of $MESSAGES accepted)"
    echo "$line" | tee -a "$out"
  done
  ROUTER_CLUSTER_DIR="$cluster_dir" "$root/scripts/cluster.sh" stop >/dev/null
  kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
done
echo >> "$out"
echo "machine: $(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
log "results in $out"
