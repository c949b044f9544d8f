#!/bin/sh
# The benchmark's one entry point: builds the release binaries, then measures
# intelmqd/intelmqctl, supervisord and IntelMQ's own intelmqctl for 100, 500 and
# 1000 bots. Options: see `bench/run.sh --help` (e.g. --n 100 for a short run).
set -e
cd "$(dirname "$0")/.."
PY=python3
command -v "$PY" >/dev/null 2>&1 || PY=/usr/bin/python3
exec "$PY" bench/bench.py "$@"
