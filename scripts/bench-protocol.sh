#!/usr/bin/env bash
# Runs the Router.Protocol BenchmarkDotNet suite (command parsing, DATA reading) with a short job.
set -euo pipefail
cd "$(dirname "$0")/../bench/Router.Benchmarks"
dotnet run -c Release --artifacts-path /tmp/art-bench -- --filter '*' --job short
