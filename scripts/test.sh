#!/usr/bin/env bash
# Runs every test: installs the real dependencies the tests use when missing (dnsmasq, swaks,
# Postfix's smtp-sink, PostgreSQL), builds once in Release, runs each test project in turn and
# ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v swaks >/dev/null 2>&1 || missing+=(swaks)
# swaks's STARTTLS needs Net::SSLeay (a package swaks only recommends).
perl -MNet::SSLeay -e1 >/dev/null 2>&1 || missing+=(libnet-ssleay-perl)
[ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  # Keep package scripts from starting services (Postfix on port 25, the system PostgreSQL) while
  # installing: the cluster tests run their own private PostgreSQL server.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Router.sln -c Release -nologo -clp:ErrorsOnly

passed=0; failed=0; status=0
for project in tests/*/*.csproj; do
  echo "== $project"
  log=$(mktemp)
  dotnet test "$project" -c Release --no-build -nologo 2>&1 | tee "$log" || true
  if ! grep -qE "^(Passed!|Failed!)" "$log"; then status=1; echo "test.sh: $project did not report results"; fi
  p=$(grep -oE "Passed: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
  f=$(grep -oE "Failed: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
  rm -f "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
