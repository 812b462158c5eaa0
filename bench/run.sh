#!/usr/bin/env bash
# The benchmark: builds the release binary, starts servers on fresh databases with fixtures
# (SQLite, then PostgreSQL), runs each scenario on loopback (wrk, 1 thread, 16 connections,
# 15 s, twice), and prints a table of requests/s, p50/p99, server CPU and RSS next to the
# targets and this machine's limits (openssl speed, argon2 verifies, the loopback ceiling).
# Writes bench/results.md; exits 1 when a target is missed. Not a test: CI does not run it.
#   BENCH_DURATION=5        a quick look
#   BENCH_BACKENDS=sqlite   one backend only
#   BENCH_POSTGRES=postgres://user@host:5432/postgres   where fresh databases are made
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
fi
case "${BENCH_BACKENDS:-sqlite postgres}" in
  *postgres*) command -v psql >/dev/null 2>&1 || {
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-client; } ;;
esac
cargo build --release --bin portcullis --example argon2_rate
BENCH_RELEASE_DIR="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release"
export BENCH_RELEASE_DIR
exec python3 bench/bench.py "$@"
