#!/usr/bin/env bash
# Router against Postfix on this machine, same durability (fsync before 250), same loopback sink.
#
#   S0  smtp-source -> smtp-sink, and our generator -> our sink: the machine's ceiling (one hop),
#       measured before the servers and again after them; the better of the two counts
#   S1  4 KiB, one local recipient -> Maildir   (end to end: until every file is in new/)
#   S2  4 KiB relayed to the sink               (end to end: until the sink has counted them all)
#   S3  100 KiB relayed to the sink
#   S4  Router only: S1 with BENCH_RSS_CONNECTIONS (500) sessions at once, for peak RSS and p99
#
# Each of S1-S3 runs on a fresh server, is driven by Postfix's smtp-source and by our generator
# (loadtest run), BENCH_RUNS times each, after a warm-up; medians are reported. Every message is
# counted at its destination (lost/duplicated). Postfix runs as a private instance (its own
# config, queue and data folders under a temp folder, loopback ports only; /etc/postfix and port
# 25 are never touched). Needs root (Postfix's master). Only processes it started are killed.
#
# Environment (defaults in brackets):
#   BENCH_MESSAGES [10000]     messages per run for 4 KiB scenarios (at least; see BENCH_MIN_SECONDS)
#   BENCH_BIG_MESSAGES [MESSAGES/4]  messages per run for S3 (100 KiB) (likewise)
#   BENCH_MIN_SECONDS [5]      each measured run lasts about this long at least: a server (or S0's
#                              sink) that would take less gets more messages per run, from the rate
#                              of its last warm-up round (S0: of a run before the measured ones),
#                              rounded up to thousands. A run of about a second measured mostly the
#                              drivers' start and the sessions' set-up (docs/PERFORMANCE.md). 0 = off
#   BENCH_RUNS [3]             runs per scenario, server and driver
#   BENCH_CONNECTIONS [50]     concurrent SMTP sessions of the drivers
#   BENCH_RSS_CONNECTIONS [500]  sessions in S4 (0 = skip S4)
#   BENCH_SCENARIOS ["S0 S1 S2 S3 S4"]  BENCH_DRIVERS ["smtp-source loadtest"]  BENCH_SERVERS ["postfix router"]
#   BENCH_WARMUP [20000]       warm-up messages before a server's measured runs, in rounds of new
#                              sessions (Router's JIT tiers its hot methods up with profile data:
#                              relay is still tiering after 5,000)
#   BENCH_MAX_SECONDS [1140]   stop starting runs after this long (the report covers what ran), except
#                              S0 measured again at the end, which always runs
#   BENCH_SETTLE [360]         start the measured work only this many seconds after the last run's
#                              clean-up (0: at once; see the work folder below)
#   BENCH_ARTIFACTS [/tmp/router-bench-artifacts]  where Router and the generator are built
#   BENCH_SKIP_BUILD [0]       1 = use what BENCH_ARTIFACTS holds
#   BENCH_RESULTS [bench-results/]  results folder (bench-<time>.md and .json)
#   BENCH_KEEP [0]             1 = keep the temp folder (logs, Maildirs, Postfix's maillog)
# Quick mode: BENCH_MESSAGES=2000 BENCH_WARMUP=1000 BENCH_RUNS=1 BENCH_MIN_SECONDS=0 scripts/bench.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

MESSAGES=${BENCH_MESSAGES:-10000}
BIG_MESSAGES=${BENCH_BIG_MESSAGES:-$(( MESSAGES / 4 ))}
RUNS=${BENCH_RUNS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
RSS_CONNECTIONS=${BENCH_RSS_CONNECTIONS:-500}
SCENARIOS=${BENCH_SCENARIOS:-"S0 S1 S2 S3 S4"}
DRIVERS=${BENCH_DRIVERS:-"smtp-source loadtest"}
SERVERS=${BENCH_SERVERS:-"postfix router"}
WARMUP=${BENCH_WARMUP:-20000}
MIN_SECONDS=${BENCH_MIN_SECONDS:-5}
MAX_SECONDS=${BENCH_MAX_SECONDS:-1140}
ART=${BENCH_ARTIFACTS:-/tmp/router-bench-artifacts}
RESULTS=${BENCH_RESULTS:-$root/bench-results}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}   # one driver invocation
STALL_TIMEOUT=${BENCH_STALL_TIMEOUT:-60} # no progress at the destination for this long = give up
SMALL=4096
BIG=102400

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# build_router_and_loadtest, free_port, wait_port, router_bench_config
. "$root/scripts/lib/bench-common.sh"

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "run as root: Postfix's master needs it"
  exec sudo -E "$0" "$@"
fi

# ---- dependencies ----------------------------------------------------------------------------

if [ ! -x /usr/sbin/postfix ] || ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
  log "installing postfix (service start blocked by policy-rc.d)"
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1; fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >&2; }
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
fi
command -v python3 >/dev/null || die "python3 is needed for measuring and reporting"
PYTHON=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter itself: a pyenv shim costs seconds a call
command -v dotnet >/dev/null || die "the .NET SDK is needed to build Router"

build_router_and_loadtest "$ART" "${BENCH_SKIP_BUILD:-0}"

# ---- work folder, helper, cleanup ------------------------------------------------------------

# A run right after another one's clean-up would create its files among the tens of thousands of
# inodes that clean-up freed, which on an ext4 without a journal (this VM's root) an inode
# allocation scans past for one to six minutes (recently_deleted in fs/ext4/ialloc.c): Router's
# S1 did 7,603 msg/s in a run started as the one before deleted its files, 9,518 in the next one,
# started five minutes after (docs/PERFORMANCE.md).
# So a run waits until the last clean-up is SETTLE seconds old; the stamp is that clean-up's time.
CLEANUP_STAMP=/tmp/router-bench.cleaned-up
SETTLE=${BENCH_SETTLE:-360}
if [ -f "$CLEANUP_STAMP" ]; then
  wait_s=$(( $(stat -c %Y "$CLEANUP_STAMP") + SETTLE - $(date +%s) ))
  if [ "$wait_s" -gt 0 ]; then
    log "waiting ${wait_s} s: the last run's files were deleted $(( SETTLE - wait_s )) s ago (BENCH_SETTLE=$SETTLE)"
    sleep "$wait_s"
  fi
fi
W=$(mktemp -d /tmp/router-bench.XXXXXX)
chmod 755 "$W"
# Each server's folder ($W/S1-postfix, $W/S1-router...) is a top of a directory hierarchy for
# ext4's Orlov allocator, so the two trees land in different block groups, as on two machines:
# on an ext4 without a journal an inode allocation scans past the group's recently freed inodes,
# and Postfix frees a queue file per message right before each Router run (and vice versa).
chattr +T "$W" 2>/dev/null || log "chattr +T not supported here: the servers share block groups"
PIDS=()          # every process we started and must stop
POSTFIX_DIRS=()  # config folders of the Postfix instances we started

cleanup() {
  local rc=$?
  set +e
  for dir in "${POSTFIX_DIRS[@]}"; do postfix_stop "$dir"; done
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then log "work folder kept: $W"; else rm -rf "$W" && touch "$CLEANUP_STAMP"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { local p=$1 i; for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$p" ] && unset 'PIDS[i]'; done; return 0; }

stop_pid() { # TERM, wait up to 15 s, then KILL; only a pid we started
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || { forget_pid "$pid"; return 0; }
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

# A driver runs under timeout(1), which puts it in a process group of its own, out of Ctrl-C's reach;
# and bash runs a trap only once a command in the foreground has ended. So a driver runs in the
# background and is waited for: a trapped signal ends the wait at once, and cleanup stops it.
wait_driver() { # PID: returns its exit status
  local rc=0
  PIDS+=("$1")
  wait "$1" || rc=$?
  forget_pid "$1"
  return $rc
}

cat > "$W/bench.py" <<'PY'
"""Measuring helpers for bench.sh: counts at destinations, CPU and memory from /proc, the report."""
import json, os, signal, statistics, sys, time

def maildir_count(path):
    try:
        with os.scandir(path) as it:
            return sum(1 for e in it if not e.name.startswith('.'))
    except FileNotFoundError:
        return 0

def sink_read(path):
    try:
        with open(path) as f:
            s = json.load(f)
        return s['messages'], s['uptimeSeconds']
    except (OSError, ValueError, KeyError):
        return None

def stat_fields(pid):
    with open(f'/proc/{pid}/stat') as f:
        s = f.read()
    return s[s.rindex(')') + 2:].split()  # rest[0] is field 3 (state)

def children(pid):
    out = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if int(stat_fields(name)[1]) == pid:
                    out.append(int(name))
            except (OSError, IndexError):
                pass
    return out

def cpu(pid, tree):
    """utime+stime of pid; with tree, plus its live children and its reaped children (cutime+cstime)."""
    tck = os.sysconf('SC_CLK_TCK')
    r = stat_fields(pid)
    ticks = int(r[11]) + int(r[12])
    if tree:
        ticks += int(r[13]) + int(r[14])
        for c in children(pid):
            try:
                rc = stat_fields(c)
                ticks += int(rc[11]) + int(rc[12])
            except OSError:
                pass
    return ticks / tck

def status_kb(pid, key):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def pss_kb(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def main():
    cmd = sys.argv[1]
    if cmd == 'count':
        kind, path = sys.argv[2], sys.argv[3]
        if kind == 'maildir':
            print(maildir_count(path))
        else:
            s = sink_read(path)
            print(s[0] if s else 0)
    elif cmd == 'wait':
        # wait KIND PATH TARGET DRIVER_END STALL: prints "<epoch when TARGET was reached> <count>".
        kind, path, target, t_end, stall = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
        last, last_change, first = -1, time.time(), True
        prev = None       # sink: previous (count, uptime) snapshot
        offset = None     # sink: wall clock minus the sink's uptime, estimated from below
        while True:
            now = time.time()
            if kind == 'maildir':
                n, up = maildir_count(path), None
            else:
                s = sink_read(path) or (0, 0.0)
                n, up = s
                offset = now - up if offset is None else min(offset, now - up)
            if n >= target:
                if first:
                    done = t_end  # complete when the driver finished (within one poll)
                elif kind == 'maildir':
                    done = now
                else:
                    c0, u0 = prev if prev else (n, up)
                    u = up if n == c0 else u0 + (target - c0) / (n - c0) * (up - u0)
                    done = max(t_end, offset + u)
                print(f'{done:.6f} {n}')
                return
            first = False
            if n != last:
                last, last_change = n, now
            elif now - last_change > stall:
                print(f'{now:.6f} {n}')
                return
            if kind != 'maildir' and (prev is None or up != prev[1]):
                prev = (n, up)
            time.sleep(0.05 if kind == 'maildir' else 0.02)
    elif cmd == 'settle':
        # settle KIND PATH TARGET SECONDS: waits until count >= TARGET and unchanged for SECONDS (cap 60 s), prints it.
        kind, path, target, quiet = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        read = (lambda: maildir_count(path)) if kind == 'maildir' else (lambda: (sink_read(path) or (0, 0))[0])
        start, last, since = time.time(), read(), time.time()
        while time.time() - start < 60:
            time.sleep(0.25)
            n = read()
            if n != last:
                last, since = n, time.time()
            elif n >= target and time.time() - since >= quiet:
                break
            elif n < target and time.time() - since >= quiet + 10:
                break
        print(last)
    elif cmd == 'cpu':
        print(f'{cpu(int(sys.argv[2]), sys.argv[3] == "tree"):.3f}')
    elif cmd == 'hwm':
        print(status_kb(int(sys.argv[2]), 'VmHWM'))
    elif cmd == 'rss-sampler':
        # rss-sampler PID OUT WHILE: writes the largest sum of PSS (kB) of PID and its children seen
        # while the file WHILE exists (the server's own runs), until PID is gone. For Postfix's many
        # processes PSS counts shared pages (libraries, shared memory) once, not per process. Only
        # Postfix is sampled: Router is one process whose peak the kernel keeps (VmHWM), and reading
        # smaps_rollup walks a process's page tables, which cost 5 % of the machine's CPU every
        # 200 ms during Router's runs when both were sampled throughout.
        pid, out, active = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        peak = 0
        while os.path.exists(f'/proc/{pid}'):
            if os.path.exists(active):
                total = pss_kb(pid) + sum(pss_kb(c) for c in children(pid))
                if total > peak:
                    peak = total
                    with open(out + '.tmp', 'w') as f:
                        f.write(str(peak))
                    os.replace(out + '.tmp', out)
            time.sleep(0.2)
    elif cmd == 'harvest':
        # harvest DIR: counts the files of a Maildir new/ folder and the repeated Message-IDs among
        # them, then moves exactly those files to the Maildir's cur/, as a mail reader does (keeps new/
        # small; later arrivals are counted next time). Not deleted: on an ext4 without a journal
        # (this VM's root) every inode allocation scans past the inodes freed in the last minutes,
        # so deleting tens of thousands of files here would slow whichever server runs next.
        seen, dups, names = set(), 0, []
        if not os.path.isdir(sys.argv[2]):
            print(0, 0)
            return
        with os.scandir(sys.argv[2]) as it:
            for e in it:
                if e.name.startswith('.'):
                    continue
                names.append(e.path)
                with open(e.path, 'rb') as f:
                    for line in f:
                        if line in (b'\r\n', b'\n'):
                            break
                        if line[:11].lower() == b'message-id:':
                            mid = line[11:].strip()
                            dups += mid in seen
                            seen.add(mid)
                            break
        cur = os.path.join(os.path.dirname(os.path.normpath(sys.argv[2])), 'cur')
        os.makedirs(cur, exist_ok=True)
        for n in names:
            os.rename(n, os.path.join(cur, os.path.basename(n)))
        print(len(names), dups)
    elif cmd == 'report':
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def fmt(x, spec='.0f'):
    return '-' if x is None else format(x, spec)

def report(jsonl, machine_json, out_md, out_json):
    rows = [json.loads(l) for l in open(jsonl) if l.strip()]
    machine = json.load(open(machine_json))
    runs = [r for r in rows if r['type'] == 'run']
    incomplete = [r for r in runs if not r.get('complete', True)]
    runs = [r for r in runs if r.get('complete', True)]  # medians of complete runs only
    servers = {(r['scenario'], r['server']): r for r in rows if r['type'] == 'server'}
    groups = {}
    for r in runs:
        groups.setdefault((r['scenario'], r['server'], r['driver']), []).append(r)
    summary = {}
    for key, rs in groups.items():
        summary[key] = {
            'runs': len(rs),
            'messages': rs[0]['messages'],
            'e2e_msgs': med([r['delivered_in_time'] / r['e2e_s'] if r['e2e_s'] > 0 else None for r in rs]),
            'accept_msgs': med([r['accepted'] / r['accept_s'] if r['accept_s'] > 0 else None for r in rs]),
            'p99_ms': med([r.get('p99_ms') for r in rs]),
            'cpu_per_1k': med([r['cpu_s'] * 1000 / r['accepted'] if r['accepted'] and r.get('cpu_s') is not None else None for r in rs]),
        }
    def s(sc, sv, dr, k):
        return summary.get((sc, sv, dr), {}).get(k)
    def ratio(a, b):
        return a / b if a and b else None
    lines = []
    lines.append(f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['mem_gb']} GB RAM, "
                 f"{machine['fs']} on {machine['disk']}, Linux {machine['kernel']}, Postfix {machine['postfix']}, .NET {machine['dotnet']}; "
                 f"load average before/after: {machine['load_before']} / {machine.get('load_after', '?')}")
    lines.append(f"Settings: at least {machine['messages']} x 4 KiB and {machine['big_messages']} x 100 KiB messages per run, "
                 f"and runs of at least about {machine.get('min_seconds', 0)} s (messages per run below), "
                 f"{machine['connections']} concurrent sessions, {machine['runs']} runs (medians), warm-up {machine['warmup']} messages per server.")
    lines.append('')
    if incomplete:
        lines.append('**Incomplete runs, left out of the medians** (driver failed, or not every message accepted and delivered): ' + '; '.join(
            f"{r['scenario']} {r['server']} {r['driver']} #{r['run']}: driver exit {r.get('driver_exit', '?')}, "
            f"{r['accepted']} of {r['messages']} accepted, {r['delivered_in_time']} delivered" for r in incomplete) + '.')
        lines.append('')
    lines.append('| Scenario | Driver | Postfix msg/s | Router msg/s | Router / Postfix | p99 accept ms (Postfix / Router) | CPU s per 1k msgs (Postfix / Router) | Peak memory MB (Postfix PSS sum / Router RSS) | Lost (Postfix / Router) | Duplicated (Postfix / Router) |')
    lines.append('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    titles = {'S1': 'S1 4 KiB -> Maildir', 'S2': 'S2 4 KiB relay', 'S3': 'S3 100 KiB relay'}
    drivers = sorted({k[2] for k in groups}, key=lambda d: (d != 'smtp-source', d))
    for sc in ('S1', 'S2', 'S3'):
        for dr in drivers:
            if (sc, 'postfix', dr) not in summary and (sc, 'router', dr) not in summary:
                continue
            pf, rt = s(sc, 'postfix', dr, 'e2e_msgs'), s(sc, 'router', dr, 'e2e_msgs')
            r = ratio(rt, pf)
            sp, sr = servers.get((sc, 'postfix'), {}), servers.get((sc, 'router'), {})
            def mb(x):
                return fmt(x / 1024 if x else None)
            def count(x, k):
                return '-' if not x else str(x[k])
            lines.append(f"| {titles[sc]} | {dr} | {fmt(pf)} | {fmt(rt)} | {fmt(r, '.2f')}x | "
                         f"{fmt(s(sc, 'postfix', dr, 'p99_ms'), '.1f')} / {fmt(s(sc, 'router', dr, 'p99_ms'), '.1f')} | "
                         f"{fmt(s(sc, 'postfix', dr, 'cpu_per_1k'), '.2f')} / {fmt(s(sc, 'router', dr, 'cpu_per_1k'), '.2f')} | "
                         f"{mb(sp.get('peak_rss_kb'))} / {mb(sr.get('hwm_kb'))} | {count(sp, 'lost')} / {count(sr, 'lost')} | "
                         f"{count(sp, 'duplicated')} / {count(sr, 'duplicated')} |")
    lines.append('')
    s0 = [k for k in summary if k[0] == 'S0']
    if s0:
        lines.append('| S0 ceiling (one hop, no storage) | Driver | msg/s before / after the servers | ceiling (the better) | Router S1 / S0 | Router S2 / S0 |')
        lines.append('|---|---|---:|---:|---:|---:|')
        for key in sorted(s0, key=lambda k: (k[2] != 'smtp-source', k[2])):
            before, after = summary[key]['e2e_msgs'], s('S0-end', key[1], key[2], 'e2e_msgs')
            ceiling = max((x for x in (before, after) if x is not None), default=None)
            def pct(sc):  # '-' when Router's median or the ceiling is missing, not 0 %
                r = ratio(s(sc, 'router', key[2], 'e2e_msgs'), ceiling)
                return '-' if r is None else f"{r * 100:.0f}%"
            lines.append(f"| {key[1]} | {key[2]} | {fmt(before)} / {fmt(after)} | {fmt(ceiling)} | {pct('S1')} | {pct('S2')} |")
        lines.append('')
    s4 = [r for r in runs if r['scenario'] == 'S4']
    if s4:
        r, sv = s4[-1], servers.get(('S4', 'router'), {})
        lines.append(f"S4 (Router, {r['connections']} sessions at once, 4 KiB -> Maildir, {r['driver']}): "
                     f"{fmt(r['delivered_in_time'] / r['e2e_s'] if r['e2e_s'] else None)} msg/s, p99 accept {fmt(r.get('p99_ms'), '.1f')} ms, "
                     f"peak RSS (VmHWM) {fmt((sv.get('hwm_kb') or 0) / 1024)} MB, "
                     f"lost / dup {sv.get('lost', '-')} / {sv.get('duplicated', '-')}.")
        lines.append('')
    # The issue's targets, from the medians above. A figure that is missing (a scenario, server or
    # driver not run, or only incomplete runs) is "no data", never "met".
    targets = []
    def target(name, value, ok, shown):
        targets.append((name, shown(value) if value is not None else '-', 'no data' if value is None else ('met' if ok(value) else 'NOT MET')))
    for dr in drivers:
        for sc, need in (('S1', 4), ('S2', 4), ('S3', 3)):
            target(f"{sc} {dr}: Router >= {need}x Postfix", ratio(s(sc, 'router', dr, 'e2e_msgs'), s(sc, 'postfix', dr, 'e2e_msgs')),
                   lambda v, n=need: v >= n, lambda v: f"{v:.2f}x")
        s0v = [v for v in (s('S0', 'smtp-sink' if dr == 'smtp-source' else 'loadtest-sink', dr, 'e2e_msgs'),
                           s('S0-end', 'smtp-sink' if dr == 'smtp-source' else 'loadtest-sink', dr, 'e2e_msgs')) if v is not None]
        target(f"S1 {dr}: Router >= 50% of S0", ratio(s('S1', 'router', dr, 'e2e_msgs'), max(s0v) if s0v else None),
               lambda v: v >= 0.5, lambda v: f"{v * 100:.0f}%")
    for sc in ('S1', 'S2', 'S3'):
        pf, rt = s(sc, 'postfix', 'loadtest', 'p99_ms'), s(sc, 'router', 'loadtest', 'p99_ms')
        target(f"{sc} loadtest: Router's p99 acceptance <= Postfix's", (rt, pf) if rt is not None and pf is not None else None,
               lambda v: v[0] <= v[1], lambda v: f"{v[0]:.1f} / {v[1]:.1f} ms")
    for sc in ('S1', 'S2', 'S3', 'S4'):
        for sv in ('postfix', 'router'):
            if sc == 'S4' and sv == 'postfix':
                continue
            x = servers.get((sc, sv))
            target(f"{sc} {sv}: no message lost or duplicated", (x['lost'], x['duplicated']) if x else None,
                   lambda v: v == (0, 0), lambda v: f"{v[0]} lost, {v[1]} duplicated")
    target('complete runs: every driver run accepted and delivered all its messages', len(incomplete) if runs or incomplete else None,
           lambda v: v == 0, lambda v: f"{v} incomplete")
    s4run = [r for r in runs if r['scenario'] == 'S4']
    target('S4: Router peak RSS <= 300 MB with 500 sessions', (servers.get(('S4', 'router')) or {}).get('hwm_kb') or None if s4run and s4run[-1]['connections'] >= 500 else None,
           lambda v: v <= 300 * 1024, lambda v: f"{v / 1024:.0f} MB")
    lines.append('| Target (issue #5, from the medians) | Value | Verdict |')
    lines.append('|---|---:|---|')
    lines.extend(f"| {n} | {v} | {ok} |" for n, v, ok in targets)
    lines.append('')
    sizes = {}
    for (sc, sv, dr), v in summary.items():
        if sc != 'S0-end':
            sizes.setdefault(sc, {}).setdefault(sv, set()).add(v['messages'])
    lines.append('Messages per run: ' + '; '.join(
        f"{sc}: " + ', '.join(f"{sv} {'/'.join(str(n) for n in sorted(ns))}" for sv, ns in sorted(sizes[sc].items()))
        for sc in sorted(sizes)) + '.')
    lines.append('')
    lines.append('msg/s: end to end (from the first message sent until the last one is in new/ or counted by the sink), median of the runs. '
                 'p99: MAIL to the reply after the final dot, from our generator (smtp-source reports none). '
                 'CPU: utime+stime of the server processes only (Postfix: master and all its children), not the driver or the sink. '
                 'Peak memory: Postfix: largest sum of PSS (proportional set size: shared pages counted once) of master and its children, sampled every 200 ms during its runs; Router: VmHWM of its one process.')
    text = '\n'.join(lines) + '\n'
    with open(out_md, 'w') as f:
        f.write(text)
    print(text)
    with open(out_json, 'w') as f:
        json.dump({'machine': machine, 'rows': rows,
                   'summary': [dict(zip(('scenario', 'server', 'driver'), k), **v) for k, v in summary.items()]}, f, indent=1)

main()
PY
py() { "$PYTHON" -S "$W/bench.py" "$@"; }


# On a shared machine other work steals the CPU in bursts: run everything here (servers, drivers,
# sinks alike) at a higher priority so both servers see a steadier machine. 0 = leave as is.
NICE=${BENCH_NICE:--10}
if [ "$NICE" != 0 ]; then renice -n "$NICE" -p $$ >/dev/null; fi

START=$(date +%s)
time_left() { [ $(( $(date +%s) - START )) -lt "$MAX_SECONDS" ]; }

# ---- sinks: one per server, so every server's relayed mail is counted apart ------------------

declare -A SINK_PORTS
for sv in postfix router; do
  SINK_PORTS[$sv]=$(free_port)
  dotnet "$LOADTEST_DLL" sink --listen "127.0.0.1:${SINK_PORTS[$sv]}" --stats-file "$W/sink-$sv.json" > "$W/sink-$sv.log" 2>&1 &
  PIDS+=("$!")
done
for sv in postfix router; do
  wait_port "${SINK_PORTS[$sv]}" 30 || die "sink did not start: $(cat "$W/sink-$sv.log")"
  for i in $(seq 50); do [ -s "$W/sink-$sv.json" ] && break; sleep 0.1; done
done

# ---- Postfix ---------------------------------------------------------------------------------

postfix_start() { # DIR PORT: a private instance; prints nothing, sets PF_MASTER
  local dir=$1 port=$2 nobody_gid
  nobody_gid=$(id -g nobody)
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail"
  chmod 755 "$dir" "$dir/mail"
  chown postfix "$dir/data"
  chown "nobody:$nobody_gid" "$dir/mail"
  for f in postfix-files postfix-files.d dynamicmaps.cf dynamicmaps.cf.d; do
    [ -e "/etc/postfix/$f" ] && cp -r "/etc/postfix/$f" "$dir/etc/"
  done
  cat > "$dir/etc/main.cf" <<EOF
# Private benchmark instance written by scripts/bench.sh: Postfix defaults except addresses.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
meta_directory = $dir/etc
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mx.bench.test
mydomain = bench.test
myorigin = bench.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtp_host_lookup = native
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = local.test
virtual_mailbox_maps = inline:{ user@local.test=local.test/user/ }
virtual_mailbox_base = $dir/mail
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$nobody_gid
transport_maps = inline:{ remote.test=smtp:[127.0.0.1]:${SINK_PORTS[postfix]} }
EOF
  cat > "$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  POSTFIX_DIRS+=("$dir/etc")
  postfix -c "$dir/etc" start >&2 || die "postfix did not start: $(tail -5 "$dir/maillog" 2>/dev/null)"
  local i
  for i in $(seq 100); do [ -s "$dir/queue/pid/master.pid" ] && break; sleep 0.1; done
  PF_MASTER=$(tr -d ' \n' < "$dir/queue/pid/master.pid")
  wait_port "$port" 20 || die "postfix is not listening on $port"
}

postfix_stop() { # ETC_DIR: stop, then kill by pid whatever of that instance is left
  local etc=$1 master queue kids i
  queue=$(postconf -c "$etc" -h queue_directory 2>/dev/null) || return 0
  [ -s "$queue/pid/master.pid" ] || return 0
  master=$(tr -d ' \n' < "$queue/pid/master.pid")
  kill -0 "$master" 2>/dev/null || return 0
  kids=$(ps -o pid= --ppid "$master" 2>/dev/null || true)
  postfix -c "$etc" stop >/dev/null 2>&1 || true
  for i in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$master" 2>/dev/null || true
  for i in $kids; do kill -KILL "$i" 2>/dev/null || true; done
  local keep=() d
  for d in "${POSTFIX_DIRS[@]}"; do [ "$d" != "$etc" ] && keep+=("$d"); done
  POSTFIX_DIRS=("${keep[@]+"${keep[@]}"}")
}

# ---- Router ----------------------------------------------------------------------------------

router_start() { # DIR PORT: sets ROUTER_PID
  local dir=$1 port=$2
  mkdir -p "$dir/data"
  { echo "# Benchmark configuration written by scripts/bench.sh"; router_bench_config "$dir/data" "$port" "${SINK_PORTS[router]}"; } > "$dir/router.hocon"
  local i attempt
  for attempt in 1 2 3; do
    # A loaded machine can make the cluster's start-up asks time out: try again on a fresh start.
    rm -rf "$dir/data"; mkdir -p "$dir/data"
    # Tiered compilation as shipped, hot methods recompiled with their profile data as soon as
    # they are hot (README, "Runtime tuning"; scripts/run.sh sets the same).
    DOTNET_TC_CallCountingDelayMs=0 dotnet "$ROUTER_DLL" --config "$dir/router.hocon" > "$dir/router.log" 2>&1 &
    ROUTER_PID=$!; PIDS+=("$ROUTER_PID")
    for i in $(seq 900); do
      grep -q "router: listening" "$dir/router.log" 2>/dev/null && break
      kill -0 "$ROUTER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$ROUTER_PID" 2>/dev/null && wait_port "$port" 5; then return 0; fi
    log "router start failed (attempt $attempt): $(grep -m1 -i 'exception' "$dir/router.log" || tail -1 "$dir/router.log")"
    stop_pid "$ROUTER_PID"
  done
  die "router did not start; see $dir/router.log"
}

# ---- one measured run ------------------------------------------------------------------------

JSONL="$W/results.jsonl"
: > "$JSONL"

# drive DRIVER PORT TO SIZE COUNT SESSIONS OUTFILE: sets ACCEPTED, P99, ELAPSED (driver's own, or wall), DRIVE_RC
drive() {
  local driver=$1 port=$2 to=$3 size=$4 count=$5 sessions=$6 out=$7 t0 t1 rc=0
  t0=$EPOCHREALTIME
  if [ "$driver" = smtp-source ]; then
    # -d: keep the connection for the next message (like the generator); -c: count DATA replies.
    timeout "$RUN_TIMEOUT" smtp-source -c -d -s "$sessions" -m "$count" -l "$size" \
      -f bench@client.test -t "$to" -M client.test "127.0.0.1:$port" > "$out" 2>&1 &
    wait_driver $! || rc=$?
    t1=$EPOCHREALTIME
    if [ $rc -eq 0 ]; then ACCEPTED=$count; else ACCEPTED=$(tr '\r' '\n' < "$out" | grep -E '^[0-9]+$' | tail -1 || true); ACCEPTED=${ACCEPTED:-0}; log "smtp-source exit $rc: $(tr '\r' '\n' < "$out" | grep -v '^[0-9]*$' | tail -2)"; fi
    P99=null
    ELAPSED=$(awk "BEGIN { print $t1 - $t0 }")
  else
    timeout "$RUN_TIMEOUT" dotnet "$LOADTEST_DLL" run --target "127.0.0.1:$port" --connections "$sessions" \
      --messages "$count" --size "$size" --to "$to" --from bench@client.test --json --quiet > "$out" 2>"$out.err" &
    wait_driver $! || rc=$?
    t1=$EPOCHREALTIME
    if [ $rc -eq 0 ] && jq -e . "$out" >/dev/null 2>&1; then
      ACCEPTED=$(jq .accepted "$out"); P99=$(jq .latencyP99Ms "$out"); ELAPSED=$(jq .elapsedSeconds "$out")
      [ "$(jq '.sent - .accepted' "$out")" = 0 ] || log "generator: $(jq -c '{sent,accepted,tempFailed,permFailed,aborted,lastError}' "$out")"
    else
      log "generator exit $rc: $(tail -3 "$out.err")"; ACCEPTED=0; P99=null; ELAPSED=$(awk "BEGIN { print $t1 - $t0 }")
    fi
  fi
  DRIVE_END=$t1 DRIVE_RC=$rc
}

# measure SCENARIO SERVER DRIVER RUN PORT KIND DEST TO SIZE COUNT SESSIONS CPU_PID CPU_MODE
measure() {
  local sc=$1 server=$2 driver=$3 run=$4 port=$5 kind=$6 dest=$7 to=$8 size=$9 count=${10} sessions=${11} cpu_pid=${12} cpu_mode=${13}
  local before cpu0 cpu1 cpu res done_at got e2e accept_s delivered harvested dups=0 complete=true
  before=$(py count "$kind" "$dest")
  cpu0=$(py cpu "$cpu_pid" "$cpu_mode")
  touch "$W/$sc-$server/measuring"  # Postfix's memory sampler samples while this exists
  drive "$driver" "$port" "$to" "$size" "$count" "$sessions" "$W/drive-$sc-$server-$driver-$run.out"
  # The run started ELAPSED seconds before the driver ended (the generator's own clock skips its start-up).
  res=$(py wait "$kind" "$dest" $(( before + ACCEPTED )) "$DRIVE_END" "$STALL_TIMEOUT")
  done_at=${res% *}; got=${res#* }
  cpu1=$(py cpu "$cpu_pid" "$cpu_mode")
  rm -f "$W/$sc-$server/measuring"
  delivered=$(( got - before ))
  read -r e2e accept_s cpu < <(awk "BEGIN { printf \"%.4f %.4f %.3f\\n\", $done_at - ($DRIVE_END - $ELAPSED), $ELAPSED, $cpu1 - $cpu0 }")
  if [ "$kind" = maildir ]; then
    read -r harvested dups < <(py harvest "$dest")
    TOTAL_DELIVERED=$(( TOTAL_DELIVERED + harvested ))
  fi
  TOTAL_ACCEPTED=$(( TOTAL_ACCEPTED + ACCEPTED ))
  TOTAL_DUPS=$(( TOTAL_DUPS + dups ))
  LAST_RATE=$(per_second "$delivered" "$e2e")
  # A run whose driver failed, or whose messages were not all accepted and delivered, measured
  # something else than the load: the report lists it and leaves it out of the medians.
  if [ "$DRIVE_RC" -ne 0 ] || [ "$ACCEPTED" -ne "$count" ] || [ "$delivered" -lt "$ACCEPTED" ]; then
    complete=false; log "$sc $server $driver #$run incomplete: driver exit $DRIVE_RC, $ACCEPTED of $count accepted, $delivered delivered"
  fi
  printf '{"type":"run","scenario":"%s","server":"%s","driver":"%s","run":%s,"messages":%s,"connections":%s,"size":%s,"accepted":%s,"delivered_in_time":%s,"duplicate_ids":%s,"accept_s":%s,"e2e_s":%s,"p99_ms":%s,"cpu_s":%s,"driver_exit":%s,"complete":%s}\n' \
    "$sc" "$server" "$driver" "$run" "$count" "$sessions" "$size" "$ACCEPTED" "$delivered" "$dups" "$accept_s" "$e2e" "$P99" "$cpu" "$DRIVE_RC" "$complete" >> "$JSONL"
  log "$sc $server $driver #$run: $ACCEPTED accepted in ${accept_s}s, $delivered delivered in ${e2e}s ($LAST_RATE msg/s), p99 $P99 ms, cpu $cpu s"
}

per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f\n", n / (s + 1e-9) }'; } # COUNT SECONDS: msg/s

# run_size COUNT RATE: messages per measured run: COUNT, or enough for MIN_SECONDS at RATE msg/s
run_size() {
  awk -v n="$1" -v rate="${2:-0}" -v t="$MIN_SECONDS" 'BEGIN { m = int((rate * t + 999) / 1000) * 1000; print (m > n ? m : n) }'
}

# scenario SC SERVER KIND TO SIZE COUNT SESSIONS "DRIVERS" RUNS
# scenario SC KIND TO SIZE COUNT SESSIONS "DRIVERS" RUNS: every server of $SERVERS started fresh,
# warmed up, then runs interleaved (Postfix, Router, Postfix, ...) so that a change in the
# machine's load hits both alike.
scenario() {
  local sc=$1 kind=$2 to=$3 size=$4 count=$5 sessions=$6 drivers=$7 runs=$8
  local sv dir settled lost dup uniq driver run rss hwm
  local -A port dest cpu_pid cpu_mode sampler sink_before tot_acc tot_del tot_dup run_count
  time_left || { log "time budget spent: skipping $sc"; return 0; }
  for sv in $SERVERS; do
    [ "$sc" = S4 ] && [ "$sv" != router ] && continue
    dir="$W/$sc-$sv"
    port[$sv]=$(free_port)
    if [ "$sv" = postfix ]; then
      postfix_start "$dir" "${port[$sv]}"
      cpu_pid[$sv]=$PF_MASTER; cpu_mode[$sv]=tree
      dest[$sv]="$dir/mail/local.test/user/new"
    else
      router_start "$dir" "${port[$sv]}"
      cpu_pid[$sv]=$ROUTER_PID; cpu_mode[$sv]=self
      dest[$sv]="$dir/data/maildir/local.test/user/new"
    fi
    [ "$kind" = sink ] && dest[$sv]="$W/sink-$sv.json"
    if [ "$sv" = postfix ]; then
      "$PYTHON" -S "$W/bench.py" rss-sampler "$PF_MASTER" "$dir/peak-rss" "$dir/measuring" &
      sampler[$sv]=$!; PIDS+=("${sampler[$sv]}")
    fi
    sink_before[$sv]=$(py count sink "$W/sink-$sv.json")
    TOTAL_ACCEPTED=0; TOTAL_DELIVERED=0; TOTAL_DUPS=0
    # The warm-up goes in rounds of new sessions (at most 4,000 messages each), the drivers taking
    # turns: Router's code that runs once per session (its start, its close) is tiered up only after
    # some rounds of sessions. After one round of 20,000 messages the tiered JIT still took 0.25-0.4
    # CPU s in the first measured run, a fifth of that run's Router CPU (docs/PERFORMANCE.md).
    local n turn=0
    local -a warm_drivers=($drivers)
    for n in $(warmup_rounds "$WARMUP"); do
      measure "$sc" "$sv" "${warm_drivers[turn % ${#warm_drivers[@]}]}" 0 "${port[$sv]}" "$kind" "${dest[$sv]}" "$to" "$size" "$n" "$sessions" "${cpu_pid[$sv]}" "${cpu_mode[$sv]}"
      sed -i '$d' "$JSONL"  # the warm-up is counted for losses, not reported
      turn=$(( turn + 1 ))
    done
    tot_acc[$sv]=$TOTAL_ACCEPTED; tot_del[$sv]=$TOTAL_DELIVERED; tot_dup[$sv]=$TOTAL_DUPS
    run_count[$sv]=$count
    [ "$WARMUP" -gt 0 ] && run_count[$sv]=$(run_size "$count" "$LAST_RATE")
    log "$sc $sv: ${run_count[$sv]} messages per measured run"
  done
  for driver in $drivers; do
    for run in $(seq "$runs"); do
      for sv in $SERVERS; do
        [ -n "${port[$sv]:-}" ] || continue
        time_left || break 3
        TOTAL_ACCEPTED=${tot_acc[$sv]}; TOTAL_DELIVERED=${tot_del[$sv]}; TOTAL_DUPS=${tot_dup[$sv]}
        measure "$sc" "$sv" "$driver" "$run" "${port[$sv]}" "$kind" "${dest[$sv]}" "$to" "$size" "${run_count[$sv]}" "$sessions" "${cpu_pid[$sv]}" "${cpu_mode[$sv]}"
        tot_acc[$sv]=$TOTAL_ACCEPTED; tot_del[$sv]=$TOTAL_DELIVERED; tot_dup[$sv]=$TOTAL_DUPS
      done
    done
  done
  # Every accepted message must arrive exactly once: wait for stragglers and extra copies.
  for sv in $SERVERS; do
    [ -n "${port[$sv]:-}" ] || continue
    if [ "$kind" = sink ]; then
      settled=$(py settle sink "${dest[$sv]}" $(( ${sink_before[$sv]} + ${tot_acc[$sv]} )) 2)
      tot_del[$sv]=$(( settled - ${sink_before[$sv]} ))
    else
      py settle maildir "${dest[$sv]}" 0 2 >/dev/null
      read -r settled dup < <(py harvest "${dest[$sv]}")
      tot_del[$sv]=$(( ${tot_del[$sv]} + settled ))
      tot_dup[$sv]=$(( ${tot_dup[$sv]} + dup ))
    fi
    # A file whose Message-ID was already seen is a copy, not a delivery: it counts once, as
    # duplicated, and cannot stand in for a lost message. More distinct messages than accepted are
    # copies too (of messages harvested in another run).
    uniq=$(( ${tot_del[$sv]} - ${tot_dup[$sv]} ))
    lost=$(( ${tot_acc[$sv]} > uniq ? ${tot_acc[$sv]} - uniq : 0 ))
    dup=$(( (uniq > ${tot_acc[$sv]} ? uniq - ${tot_acc[$sv]} : 0) + ${tot_dup[$sv]} ))
    dir="$W/$sc-$sv"
    hwm=0; rss=0  # Router: its VmHWM; Postfix: the sampler's peak PSS sum
    if [ "$sv" = router ]; then hwm=$(py hwm "${cpu_pid[$sv]}"); else rss=$(cat "$dir/peak-rss" 2>/dev/null || echo 0); fi
    printf '{"type":"server","scenario":"%s","server":"%s","accepted":%s,"delivered":%s,"lost":%s,"duplicated":%s,"peak_rss_kb":%s,"hwm_kb":%s}\n' \
      "$sc" "$sv" "${tot_acc[$sv]}" "${tot_del[$sv]}" "$lost" "$dup" "$rss" "$hwm" >> "$JSONL"
    log "$sc $sv: accepted ${tot_acc[$sv]}, delivered ${tot_del[$sv]}, lost $lost, duplicated $dup, peak memory $(( (rss + hwm) / 1024 )) MB"
    [ -z "${sampler[$sv]:-}" ] || stop_pid "${sampler[$sv]}"
    if [ "$sv" = postfix ]; then postfix_stop "$dir/etc"; else stop_pid "${cpu_pid[$sv]}"; fi
  done
}

# S0: one hop into a sink that stores nothing. Measured before the servers (S0) and again after
# them (S0-end): the machine's ceiling is the better of the two, so a disturbance during one of
# them (host load, writeback after a build) cannot make the ceiling look low.
# The runs are sized once, before the first S0 run of each driver (S0-end uses the same size).
declare -A S0_COUNT
ceiling() { # SCENARIO-NAME
  local sc=$1 driver run complete
  for driver in $DRIVERS; do
    if [ -z "${S0_COUNT[$driver]:-}" ]; then
      time_left || return 0
      one_hop "$driver" "$MESSAGES" "$W/drive-$sc-$driver-0.out"
      S0_COUNT[$driver]=$(run_size "$MESSAGES" "$(per_second "$GOT" "$ELAPSED")")
      log "$sc $driver: ${S0_COUNT[$driver]} messages per measured run"
    fi
    for run in $(seq "$RUNS"); do
      # S0-end always runs whole: every ratio's ceiling may be this one (a minute at most).
      [ "$sc" = S0-end ] || time_left || return 0
      one_hop "$driver" "${S0_COUNT[$driver]}" "$W/drive-$sc-$driver-$run.out"
      complete=true
      if [ "$DRIVE_RC" -ne 0 ] || [ "$ACCEPTED" -ne "${S0_COUNT[$driver]}" ] || [ "$GOT" -lt "$ACCEPTED" ]; then
        complete=false; log "$sc $driver #$run incomplete: driver exit $DRIVE_RC, $ACCEPTED of ${S0_COUNT[$driver]} accepted, $GOT received"
      fi
      printf '{"type":"run","scenario":"%s","server":"%s","driver":"%s","run":%s,"messages":%s,"connections":%s,"size":%s,"accepted":%s,"delivered_in_time":%s,"duplicate_ids":0,"accept_s":%s,"e2e_s":%s,"p99_ms":%s,"cpu_s":null,"driver_exit":%s,"complete":%s}\n' \
        "$sc" "$([ "$driver" = smtp-source ] && echo smtp-sink || echo loadtest-sink)" "$driver" "$run" "${S0_COUNT[$driver]}" "$CONNECTIONS" "$SMALL" "$ACCEPTED" "$GOT" "$ELAPSED" "$ELAPSED" "$P99" "$DRIVE_RC" "$complete" >> "$JSONL"
      log "$sc $driver #$run: $GOT in ${ELAPSED}s"
    done
  done
}

one_hop() { # DRIVER COUNT OUT: one S0 run; sets GOT (and drive's ACCEPTED, ELAPSED, P99)
  local driver=$1 count=$2 out=$3 port pid before
  if [ "$driver" = smtp-source ]; then
    port=$(free_port)
    smtp-sink -u nobody "127.0.0.1:$port" 256 > "$W/smtp-sink.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    wait_port "$port" 10 || die "smtp-sink did not start"
    drive smtp-source "$port" sink@remote.test "$SMALL" "$count" "$CONNECTIONS" "$out"
    stop_pid "$pid"
    GOT=$ACCEPTED
  else
    before=$(py count sink "$W/sink-router.json")
    drive loadtest "${SINK_PORTS[router]}" sink@remote.test "$SMALL" "$count" "$CONNECTIONS" "$out"
    GOT=$(( $(py settle sink "$W/sink-router.json" $(( before + ACCEPTED )) 0.3) - before ))
  fi
}

# ---- machine description ---------------------------------------------------------------------

disk_dev=$(df --output=source "$W" | tail -1)
"$PYTHON" - "$W/machine.json" <<PY
import json, os, platform, subprocess, sys
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return '?'
model = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
mem = next(int(l.split()[1]) for l in open('/proc/meminfo') if l.startswith('MemTotal'))
json.dump({
  'cpus': os.cpu_count(), 'cpu_model': model, 'mem_gb': round(mem / 1024 / 1024, 1),
  'disk': '$disk_dev' + ' (rotational=' + (sh("lsblk -ndo ROTA $disk_dev 2>/dev/null") or '?') + ', ' + (sh("lsblk -ndo SIZE $disk_dev 2>/dev/null") or '?') + ')',
  'fs': sh("df --output=fstype '$W' | tail -1"), 'kernel': platform.release(),
  'postfix': sh('postconf -d -h mail_version'), 'dotnet': sh('dotnet --version'),
  'load_before': open('/proc/loadavg').read().split()[0],
  'messages': $MESSAGES, 'big_messages': $BIG_MESSAGES, 'connections': $CONNECTIONS, 'runs': $RUNS, 'warmup': $WARMUP, 'min_seconds': $MIN_SECONDS,
  'command': 'BENCH_MESSAGES=$MESSAGES BENCH_BIG_MESSAGES=$BIG_MESSAGES BENCH_MIN_SECONDS=$MIN_SECONDS BENCH_RUNS=$RUNS BENCH_CONNECTIONS=$CONNECTIONS scripts/bench.sh',
}, open(sys.argv[1], 'w'))
PY

# ---- the scenarios ---------------------------------------------------------------------------

log "work folder $W; sinks on ${SINK_PORTS[*]}; $MESSAGES messages x $RUNS runs, $CONNECTIONS sessions"
for sc in $SCENARIOS; do
  case $sc in
    S0) ceiling S0 ;;
    S1) scenario S1 maildir user@local.test "$SMALL" "$MESSAGES" "$CONNECTIONS" "$DRIVERS" "$RUNS" ;;
    S2) scenario S2 sink user@remote.test "$SMALL" "$MESSAGES" "$CONNECTIONS" "$DRIVERS" "$RUNS" ;;
    S3) scenario S3 sink user@remote.test "$BIG" "$BIG_MESSAGES" "$CONNECTIONS" "$DRIVERS" "$RUNS" ;;
    S4) if [ "$RSS_CONNECTIONS" -gt 0 ] && [[ " $SERVERS " == *" router "* ]]; then
          WARMUP_SAVED=$WARMUP; WARMUP=0
          scenario S4 maildir user@local.test "$SMALL" "$MESSAGES" "$RSS_CONNECTIONS" loadtest 1
          WARMUP=$WARMUP_SAVED
        fi ;;
    *) die "unknown scenario $sc" ;;
  esac
done
[[ " $SCENARIOS " == *" S0 "* ]] && ceiling S0-end

"$PYTHON" - "$W/machine.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m['load_after'] = open('/proc/loadavg').read().split()[0]
json.dump(m, open(sys.argv[1], 'w'))
PY
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
py report "$JSONL" "$W/machine.json" "$RESULTS/bench-$stamp.md" "$RESULTS/bench-$stamp.json"
cp "$JSONL" "$RESULTS/bench-$stamp.runs.jsonl"
log "results: $RESULTS/bench-$stamp.md (and .json); took $(( $(date +%s) - START )) s"
