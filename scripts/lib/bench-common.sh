# Shared by scripts/bench.sh and scripts/profile.sh (sourced, not run; they define log and die).

build_router_and_loadtest() { # ARTIFACTS SKIP(0|1): sets ROUTER_DLL and LOADTEST_DLL
  if [ "$2" != 1 ]; then
    log "building Router and the load generator (Release) into $1"
    dotnet build "$root/src/Router.Host" -c Release --artifacts-path "$1" -nologo -clp:ErrorsOnly >&2
    dotnet build "$root/loadtest/Router.LoadTest" -c Release --artifacts-path "$1" -nologo -clp:ErrorsOnly >&2
  fi
  ROUTER_DLL="$1/bin/Router.Host/release/router.dll"
  LOADTEST_DLL="$1/bin/Router.LoadTest/release/loadtest.dll"
  [ -f "$ROUTER_DLL" ] && [ -f "$LOADTEST_DLL" ] || die "build output missing under $1"
}

warmup_rounds() { # TOTAL: the sizes of the warm-up's rounds, at most 4,000 messages each; each round
  # opens new sessions, so that the code run once per session gets tiered up too (docs/PERFORMANCE.md)
  local left=$1
  while [ "$left" -gt 0 ]; do echo $(( left < 4000 ? left : 4000 )); left=$(( left - 4000 )); done
}

free_port() { # a loopback port nobody listens on (others may run servers on this machine)
  local p
  while :; do
    p=$(( 20000 + RANDOM % 9000 ))
    ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}

wait_port() { # PORT SECONDS: until something accepts on 127.0.0.1:PORT
  local i
  for i in $(seq $(( $2 * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

router_bench_config() { # DATA_DIR SMTP_PORT SINK_PORT: Router's defaults (fsync/syncfs before 250) except addresses
  cat <<CONF
router {
  hostname = "mx.bench.test"
  data-dir = "$1"
  smtp.endpoints = ["127.0.0.1:$2"]
  smtp.submission-endpoints = []
  smtp.tls-endpoints = []
  http.endpoint = ""
  local-domains = ["local.test", "example.test"]
  mailboxes = ["user@local.test", "demo@example.test"]
  postmaster = "user@local.test"
  relay.transport { "remote.test" = "127.0.0.1:$3" }
  dns.servers = ["127.0.0.1:9"]
  delivery.starttls = "off"
}
CONF
}
