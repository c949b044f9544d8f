#!/bin/sh
# Runs intelmqd on the demo configuration, with demo bots that need nothing
# installed, and starts the botnet (every demo bot has `botnet: true`): three
# stream bots, and demo-fetcher, a scheduled bot that the daemon runs every
# 30 seconds.
#
#   contrib/demo/run.sh            (from anywhere; builds the workspace first)
#
# Everything goes under ${INTELMQD_DEMO_DIR:-/tmp/intelmqd-demo}: the config
# (copied from contrib/demo/etc on the first run), state, logs and the socket.
# A daemon still serving that socket from an earlier run is reused.
set -eu

demo_src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$demo_src/../.." && pwd)
demo=${INTELMQD_DEMO_DIR:-/tmp/intelmqd-demo}
socket=$demo/intelmqd.sock
bin_dir=${CARGO_TARGET_DIR:-$root/target}/debug

say() { printf '==> %s\n' "$*"; }

say "building the workspace (cargo build --workspace)"
(cd "$root" && cargo build --workspace)

mkdir -p "$demo/state" "$demo/log" "$demo/bin"
# The demo bots are copied out of the checkout so that an unprivileged bot
# user can run them wherever the checkout is (even under /root).
cp "$demo_src"/bin/* "$demo/bin/"
chmod 0755 "$demo" "$demo/bin" "$demo"/bin/*
if [ ! -e "$demo/etc/runtime.conf" ]; then
    mkdir -p "$demo/etc"
    cp "$demo_src"/etc/*.conf "$demo/etc/"
    # A daemon running as root never runs bots as root unless told: run the
    # demo bots as the user intelmq where it exists, else as nobody.
    if [ "$(id -u)" = 0 ]; then
        bot_user=nobody
        if getent passwd intelmq >/dev/null 2>&1; then bot_user=intelmq; fi
        sed -i "s/\"process_manager\": \"pid\",/\"process_manager\": \"pid\",\n    \"bot_user\": \"$bot_user\",/" "$demo/etc/defaults.conf"
        say "running as root: the demo bots run as the user $bot_user (bot_user in $demo/etc/defaults.conf)"
    fi
    say "configuration copied to $demo/etc"
else
    say "using the configuration in $demo/etc (delete it to get the demo's again)"
fi

PATH=$demo/bin:$bin_dir:$PATH
export PATH
INTELMQ_SOCKET=$socket
export INTELMQ_SOCKET

answers() { intelmqctl status >/dev/null 2>&1; }

if answers; then
    say "an intelmqd from an earlier run already serves $socket; reusing it"
else
    say "starting intelmqd (its log: $demo/intelmqd.log)"
    # setsid: the daemon leaves the terminal's session, so neither Ctrl+C here
    # nor closing the terminal ends it.
    detach=
    if command -v setsid >/dev/null 2>&1; then detach=setsid; fi
    $detach intelmqd \
        --config-dir "$demo/etc" \
        --state-dir "$demo/state" \
        --log-dir "$demo/log" \
        --socket "$socket" \
        </dev/null >/dev/null 2>>"$demo/intelmqd.log" &
    daemon_pid=$!
    echo "$daemon_pid" >"$demo/intelmqd.pid"
    tries=0
    until answers; do
        if ! kill -0 "$daemon_pid" 2>/dev/null; then
            echo "run.sh: intelmqd exited at start; the end of its log:" >&2
            tail -n 20 "$demo/intelmqd.log" >&2
            exit 1
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 100 ]; then
            echo "run.sh: intelmqd (pid $daemon_pid) does not answer on $socket after 10 s; see $demo/intelmqd.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    say "intelmqd is running (pid $daemon_pid)"
fi

# One command starts the botnet: every bot with `botnet: true`, all at once.
# A bot that cannot start is reported in its row; the demo goes on.
say "starting the botnet (intelmqctl start)"
if ! intelmqctl start; then
    say "not every bot started; see the messages above"
fi

echo
intelmqctl status

daemon_pid=$(cat "$demo/intelmqd.pid" 2>/dev/null || echo '<pid>')
cat <<EOF

The demo runs. To use intelmqctl against this daemon, paste:

    export INTELMQ_SOCKET=$socket
    export PATH=$bin_dir:\$PATH

then for example:

    intelmqctl status demo-parser      # the status and the last lines of its log
    intelmqctl reload demo-parser      # SIGHUP: the bot logs "reloaded"
    intelmqctl restart demo-output
    intelmqctl stop demo-collector
    intelmqctl status demo-fetcher     # the scheduled bot: its runs every 30 s in its log
    intelmqctl start --now --wait demo-fetcher   # one run right now, waited for
    intelmqctl --json status           # next and last run of demo-fetcher under "schedule"
    intelmqctl configtest
    tail -f $demo/log/demo-parser.log

The configuration is in $demo/etc, the daemon's own log in $demo/intelmqd.log.

Bots keep running when the daemon stops (a new daemon adopts them, and puts
demo-fetcher back on its schedule), so stop the botnet first, then the daemon:

    intelmqctl stop
    kill $daemon_pid
EOF
