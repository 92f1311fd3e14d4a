#!/usr/bin/env bash
# A Router cluster on this machine: a private PostgreSQL (journal, snapshots, remembered
# entities, message bodies) and N router nodes on loopback sharing one Maildir folder.
#
#   scripts/cluster.sh start [N=3]   PostgreSQL + N nodes; waits until every node greets on SMTP
#   scripts/cluster.sh stop          SIGTERM to each node (drain), then PostgreSQL (pg_ctl -m fast)
#   scripts/cluster.sh status        which node and server processes run, and their endpoints
#
# Node i (0-based) listens for SMTP on 127.0.0.1:$((2525+i)) and for Akka remoting on
# 127.0.0.1:$((4053+i)); the seed nodes are the first three nodes. Everything lives under
# $ROUTER_CLUSTER_DIR (default /tmp/router-cluster): pg/ (the database folder, owned by the
# postgres user), maildir/ (shared by all nodes), node<i>/ (config, data, log), *.pid files.
# $ROUTER_CLUSTER_EXTRA names a HOCON file appended to every node's config (mailboxes, static
# routes, limits...). Submission (STARTTLS+AUTH) is on 5870+i, the admin HTTP endpoint on 8025+i;
# $ROUTER_ARTIFACTS is the build folder (default /tmp/router-artifacts; ROUTER_SKIP_BUILD=1 skips
# the build that every start runs);
# $ROUTER_PORT_OFFSET shifts every port range. Processes are stopped by the PIDs in the pid
# files, never by name.
#
# Load all nodes with the load generator, e.g.:
#   dotnet $ROUTER_ARTIFACTS/bin/Router.LoadTest/release/loadtest.dll run \
#     --target 127.0.0.1:2525 --target 127.0.0.1:2526 --target 127.0.0.1:2527 -c 24 -n 20000
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${ROUTER_CLUSTER_DIR:-/tmp/router-cluster}"
artifacts="${ROUTER_ARTIFACTS:-/tmp/router-artifacts}"
router_dll="$artifacts/bin/Router.Host/release/router.dll"
offset=${ROUTER_PORT_OFFSET:-0}
smtp_base=$((2525 + offset))
akka_base=$((4053 + offset))
submission_base=$((5870 + offset))
http_base=$((8025 + offset))
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# As scripts/run.sh: hot methods recompiled with their profile data as soon as they are hot (README, "Runtime tuning").
export DOTNET_TC_CallCountingDelayMs=${DOTNET_TC_CallCountingDelayMs:-0}

log() { echo "cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }
# build_router_and_loadtest
. "$root/scripts/lib/bench-common.sh"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when 127.0.0.1:$1 answers with an SMTP greeting.
smtp_greets() {
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  read -r -t 5 line <&3 || line=""
  printf 'QUIT\r\n' >&3 2>/dev/null || true
  exec 3<&- 3>&-
  [[ "$line" == 220* ]]
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
  return 1
}

install_postgres() {
  log "installing postgresql (apt)"
  # Keep the package from starting the system cluster: we run our own server.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

start_postgres() {
  local bin port
  bin="$(pg_bin)" || { install_postgres; bin="$(pg_bin)"; }
  if alive "$dir/postgres.pid"; then log "PostgreSQL already running"; return 0; fi
  mkdir -p "$dir/pg"
  chown postgres:postgres "$dir/pg"
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
    # Trust only on loopback; no other host may connect.
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$dir/pg/data/pg_hba.conf"
    chown postgres:postgres "$dir/pg/data/pg_hba.conf"
  fi
  port=5433
  while port_open "$port"; do port=$((port + 1)); done
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/pg -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
  head -n 1 "$dir/pg/data/postmaster.pid" > "$dir/postgres.pid"
  echo "$port" > "$dir/postgres.port"
  runuser -u postgres -- "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt \
    -c "SELECT 1 FROM pg_database WHERE datname = 'router'" | grep -q 1 \
    || runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres router
  log "PostgreSQL on 127.0.0.1:$port (pid $(cat "$dir/postgres.pid"))"
}

# Built on every start (incremental: seconds when nothing changed), so a node never runs code
# older than the checkout; ROUTER_SKIP_BUILD=1 uses what $ROUTER_ARTIFACTS holds.
build_router() {
  build_router_and_loadtest "$artifacts" "${ROUTER_SKIP_BUILD:-0}"
}

write_node_config() {
  local i=$1 n=$2 seeds="" s
  for ((s = 0; s < n && s < 3; s++)); do seeds+="${seeds:+, }\"akka.tcp://router@127.0.0.1:$((akka_base + s))\""; done
  mkdir -p "$dir/node$i/data" "$dir/maildir"
  cat > "$dir/node$i/router.hocon" <<EOF
# Generated by scripts/cluster.sh for node $i of $n.
router {
  data-dir = "$dir/node$i/data"
  maildir-dir = "$dir/maildir"
  smtp.endpoints = ["127.0.0.1:$((smtp_base + i))"]
  smtp.submission-endpoints = ["127.0.0.1:$((submission_base + i))"]
  http.endpoint = "127.0.0.1:$((http_base + i))"
  queue {
    store = "postgresql"
    connection-string = "Host=127.0.0.1;Port=$(cat "$dir/postgres.port");Database=router;Username=postgres;Maximum Pool Size=50"
  }
}
akka {
  remote.dot-netty.tcp { hostname = "127.0.0.1", port = $((akka_base + i)) }
  cluster.seed-nodes = [$seeds]
}
EOF
  if [ -n "${ROUTER_CLUSTER_EXTRA:-}" ]; then cat "$ROUTER_CLUSTER_EXTRA" >> "$dir/node$i/router.hocon"; fi
}

start_node() {
  local i=$1
  if alive "$dir/node$i.pid"; then log "node $i already running"; return 0; fi
  if port_open $((smtp_base + i)) || port_open $((akka_base + i)); then
    log "port $((smtp_base + i)) or $((akka_base + i)) is taken by another process"; exit 1
  fi
  (cd "$dir/node$i" && exec setsid dotnet "$router_dll" --config "$dir/node$i/router.hocon" >>"$dir/node$i/router.log" 2>&1 </dev/null) &
  echo $! > "$dir/node$i.pid"
}

wait_smtp() {
  local i=$1 deadline=$((SECONDS + 120))
  until smtp_greets $((smtp_base + i)); do
    if ! alive "$dir/node$i.pid"; then log "node $i exited; see $dir/node$i/router.log"; tail -n 20 "$dir/node$i/router.log" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "node $i does not greet after 120 s; see $dir/node$i/router.log"; exit 1; fi
    sleep 0.2
  done
}

cmd_start() {
  local n=${1:-3} i
  [ "$n" -ge 1 ] || { log "N must be at least 1"; exit 2; }
  mkdir -p "$dir"
  chmod 755 "$dir"
  echo "$n" > "$dir/nodes"
  build_router
  start_postgres
  for ((i = 0; i < n; i++)); do write_node_config "$i" "$n"; start_node "$i"; done
  for ((i = 0; i < n; i++)); do wait_smtp "$i"; done
  log "$n node(s) up"
  for ((i = 0; i < n; i++)); do
    echo "node$i smtp=127.0.0.1:$((smtp_base + i)) submission=127.0.0.1:$((submission_base + i)) http=127.0.0.1:$((http_base + i)) akka=127.0.0.1:$((akka_base + i)) pid=$(cat "$dir/node$i.pid") log=$dir/node$i/router.log"
  done
  echo "postgresql=127.0.0.1:$(cat "$dir/postgres.port") maildir=$dir/maildir"
  local targets=""
  for ((i = 0; i < n; i++)); do targets+=" --target 127.0.0.1:$((smtp_base + i))"; done
  echo "load: dotnet $artifacts/bin/Router.LoadTest/release/loadtest.dll run$targets -c 16 -n 10000"
}

stop_pid_file() {
  local file=$1 what=$2 deadline
  alive "$file" || { rm -f "$file"; return 0; }
  local pid; pid=$(cat "$file")
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "$what (pid $pid) did not stop in 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$file"
}

cmd_stop() {
  local f pids=()
  for f in "$dir"/node*.pid; do
    [ -e "$f" ] || continue
    if alive "$f"; then kill -TERM "$(cat "$f")" 2>/dev/null || true; pids+=("$f"); else rm -f "$f"; fi
  done
  for f in "${pids[@]}"; do stop_pid_file "$f" "$(basename "$f" .pid)"; done
  if alive "$dir/postgres.pid"; then
    local bin; bin="$(pg_bin)"
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    stop_pid_file "$dir/postgres.pid" "PostgreSQL"
  fi
  rm -f "$dir/postgres.pid"
  log "stopped"
}

cmd_status() {
  local n i state
  n=$(cat "$dir/nodes" 2>/dev/null || echo 0)
  if alive "$dir/postgres.pid"; then echo "postgresql up 127.0.0.1:$(cat "$dir/postgres.port") pid=$(cat "$dir/postgres.pid")"; else echo "postgresql down"; fi
  for ((i = 0; i < n; i++)); do
    if ! alive "$dir/node$i.pid"; then state="down"
    elif smtp_greets $((smtp_base + i)); then state="up pid=$(cat "$dir/node$i.pid")"
    else state="starting pid=$(cat "$dir/node$i.pid")"; fi
    echo "node$i $state smtp=127.0.0.1:$((smtp_base + i)) akka=127.0.0.1:$((akka_base + i))"
  done
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start [N=3] | stop | status" >&2; exit 2 ;;
esac
