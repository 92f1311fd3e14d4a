#!/usr/bin/env bash
# Runs the router on the embedded defaults (SQLite queue, Maildir under ./data, 127.0.0.1:2525).
# Extra arguments go to the router, e.g. scripts/run.sh --config my.hocon
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Hot methods are recompiled with their profile data as soon as they are hot, not after the runtime
# has seen 100 ms without new compilations (under steady mail load that moment is late): README,
# "Runtime tuning".
export DOTNET_TC_CallCountingDelayMs=${DOTNET_TC_CallCountingDelayMs:-0}
dotnet build "$root/src/Router.Host" -c Release -nologo -clp:ErrorsOnly >&2
exec dotnet "$root/src/Router.Host/bin/Release/net10.0/router.dll" "$@"
