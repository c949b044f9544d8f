#!/usr/bin/env bash
# Prepares a Debian machine for the tests that run real IntelMQ 3.5 bots under
# intelmqd (tests/tests/intelmq_real.rs): redis-server, a venv with
# intelmq 3.5.0 and intelmq-api 3.2.0, and the system user `intelmq`.
# Idempotent and quick when everything is in place. Writes nothing into the
# repository. Prints the venv path on its last line.
#
# Environment:
#   INTELMQ_VENV   where the venv goes (default /opt/intelmq-venv)
set -euo pipefail

VENV=${INTELMQ_VENV:-/opt/intelmq-venv}
INTELMQ_VERSION=3.5.0
INTELMQ_API_VERSION=3.2.0
# Debian's Python, never a pyenv build under /root: once IntelMQ drops to the
# `intelmq` user, a venv whose base Python lives in an unreadable home cannot
# import its standard library.
PYTHON=/usr/bin/python3

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null 2>&1; then
    echo "intelmq-setup: installing redis-server"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi
# Debian's package starts a system redis on port 6379; the tests run their
# own on free ports, so the system one is left as the package set it up.

if [ ! -x "$PYTHON" ]; then
    echo "intelmq-setup: $PYTHON is missing; install python3 and python3-venv" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "intelmq-setup: installing python3-venv"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi

installed_version() {
    "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "intelmq-setup: creating the venv $VENV"
    as_root "$PYTHON" -m venv "$VENV"
fi
if [ "$(installed_version intelmq)" != "$INTELMQ_VERSION" ] ||
    [ "$(installed_version intelmq-api)" != "$INTELMQ_API_VERSION" ]; then
    echo "intelmq-setup: installing intelmq==$INTELMQ_VERSION intelmq-api==$INTELMQ_API_VERSION"
    as_root "$VENV/bin/pip" install --quiet \
        "intelmq==$INTELMQ_VERSION" "intelmq-api==$INTELMQ_API_VERSION"
fi
# The bots run as `intelmq`: it must read (not write) the venv.
as_root chmod -R a+rX "$VENV"

if ! id intelmq >/dev/null 2>&1; then
    echo "intelmq-setup: creating the system user intelmq"
    # A group `intelmq` left behind (e.g. by a removed package) is reused.
    group_option=()
    if getent group intelmq >/dev/null; then group_option=(-g intelmq); fi
    as_root useradd --system --no-create-home --shell /usr/sbin/nologin "${group_option[@]}" intelmq
fi

echo "intelmq-setup: redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), intelmq $(installed_version intelmq), intelmq-api $(installed_version intelmq-api)"
echo "$VENV"
