#!/usr/bin/env bash
# Runs the router on the embedded defaults (SQLite queue, Maildir under ./data, 127.0.0.1:2525).
# Extra arguments go to the router, e.g. scripts/run.sh --config my.hocon
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build "$root/src/Router.Host" -c Release -nologo -clp:ErrorsOnly >&2
exec dotnet "$root/src/Router.Host/bin/Release/net10.0/router.dll" "$@"
