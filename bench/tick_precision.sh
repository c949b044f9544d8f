#!/usr/bin/env bash
# tick_precision.sh - how punctually intelmqd's scheduler starts scheduled bots.
#
# Usage (from anywhere; builds nothing, uses the binaries already built):
#
#     cargo build --workspace            # or: cargo build --workspace --release
#     bench/tick_precision.sh [SECONDS] [BOTS]
#
#   SECONDS  how long to measure, default 100 (so each bot should run 100 times)
#   BOTS     how many scheduled test bots, default 50
#
# It uses target/release/{intelmqd,intelmqctl,intelmq-testbot} when all three
# exist, else target/debug/ (and says which). It makes a temporary directory
# under /tmp, starts one intelmqd there with BOTS copies of the test bot
# (run_mode scheduled, schedule_time "* * * * * *" = every second, run_for 0.05),
# starts the botnet, waits SECONDS, stops the botnet, stops the daemon, and
# reads the logs:
#
#   - bot side: every run of the test bot logs "started (pid N)" with a
#     millisecond timestamp from ITS OWN clock, taken after fork+exec and after
#     it read runtime.conf. Lateness = that timestamp - the whole second it
#     falls in (the tick). So it includes the daemon's wake-up, the spawn and
#     the bot's own start-up, not only the scheduler.
#   - daemon side: intelmqd's stderr line "scheduled run of <bot> for <tick>
#     started (pid N)" (microsecond timestamp, written after the spawn and the
#     pid file) minus the tick it names: the scheduler's wake-up, the spawn and
#     its bookkeeping. It can be later than the bot's own line.
#
# Reported: median, p90, p99 and worst lateness over all runs in the window,
# runs per bot against the expected number (one per second of the window),
# skipped ticks, and the machine (nproc, load average). Not a test: cargo test
# does not run it. Everything it started is stopped and the temporary
# directory removed at the end, also on Ctrl+C.
set -euo pipefail

SECONDS_TO_MEASURE=${1:-100}
BOTS=${2:-50}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=debug
if [[ -x $ROOT/target/release/intelmqd && -x $ROOT/target/release/intelmqctl && -x $ROOT/target/release/intelmq-testbot ]]; then
    PROFILE=release
fi
BIN=$ROOT/target/$PROFILE
for exe in intelmqd intelmqctl intelmq-testbot; do
    if [[ ! -x $BIN/$exe ]]; then
        echo "tick_precision: $BIN/$exe is missing: run 'cargo build --workspace' first" >&2
        exit 2
    fi
done

WORK=$(mktemp -d /tmp/imqbench-XXXXXX)
DAEMON_PID=
cleanup() {
    set +e
    if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        "$BIN/intelmqctl" --socket "$WORK/sock" stop >/dev/null 2>&1
        kill "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    # Any bot run still alive that belongs to this benchmark (its environment
    # names our config dir); only our own processes are looked at.
    for environ in /proc/[0-9]*/environ; do
        pid=${environ#/proc/}
        pid=${pid%/environ}
        if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qxF "INTELMQ_CONFIG_DIR=$WORK/config"; then
            kill -9 "$pid" 2>/dev/null
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/config" "$WORK/state" "$WORK/log"
python3 - "$WORK/config" "$BOTS" "$(id -u)" <<'EOF'
import json, sys
config, bots, uid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runtime = {
    f"bench-{i:03d}": {
        "module": "intelmq-testbot",
        "run_mode": "scheduled",
        "schedule_time": "* * * * * *",
        "botnet": True,
        "onboot": False,
        "parameters": {"run_for": 0.05},
    }
    for i in range(1, bots + 1)
}
json.dump(runtime, open(f"{config}/runtime.conf", "w"), indent=1)
defaults = {"process_manager": "pid", "stop_timeout": 2}
if uid == 0:
    # intelmqd refuses to run bots as root unless told to (defaults.conf).
    defaults["bot_user"] = "root"
json.dump(defaults, open(f"{config}/defaults.conf", "w"))
json.dump({}, open(f"{config}/pipeline.conf", "w"))
EOF

echo "tick_precision: $BOTS scheduled test bots on '* * * * * *' (run_for 0.05 s), measuring ${SECONDS_TO_MEASURE} s"
echo "tick_precision: using the $PROFILE build in $BIN"
echo "machine: nproc=$(nproc) loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg) kernel=$(uname -r)"

PATH="$BIN:$PATH" RUST_LOG=${RUST_LOG:-info} "$BIN/intelmqd" \
    --config-dir "$WORK/config" --state-dir "$WORK/state" \
    --log-dir "$WORK/log" --socket "$WORK/sock" 2>"$WORK/intelmqd.stderr" &
DAEMON_PID=$!
CTL=("$BIN/intelmqctl" --socket "$WORK/sock")
for _ in $(seq 100); do
    if "${CTL[@]}" list >/dev/null 2>&1; then break; fi
    sleep 0.1
done
"${CTL[@]}" list >/dev/null || { echo "intelmqd did not come up:" >&2; cat "$WORK/intelmqd.stderr" >&2; exit 1; }

"${CTL[@]}" start >"$WORK/start.out" || { cat "$WORK/start.out" >&2; exit 1; }
# The window: from the second whole second after the botnet start, for
# SECONDS_TO_MEASURE whole seconds.
WINDOW_START=$(( $(date +%s) + 2 ))
WINDOW_END=$(( WINDOW_START + SECONDS_TO_MEASURE ))
echo "tick_precision: botnet started; window $(date -u -d @"$WINDOW_START" +%T) .. $(date -u -d @"$WINDOW_END" +%T) UTC"
sleep $(( WINDOW_END - $(date +%s) + 1 ))
echo "machine: loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
"${CTL[@]}" stop >"$WORK/stop.out" 2>&1 || true
SKIPPED_JSON=$("${CTL[@]}" --json status 2>/dev/null || echo '[]')

python3 - "$WORK" "$WINDOW_START" "$WINDOW_END" "$BOTS" "$SKIPPED_JSON" <<'EOF'
import datetime as dt
import glob, json, os, re, statistics, sys

work, start, end, bots = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
status = json.loads(sys.argv[5] or "[]")
expected = end - start

def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]

def summary(name, late):
    if not late:
        print(f"{name}: no runs")
        return
    print(f"{name}: runs={len(late)} median={statistics.median(late):.1f} ms "
          f"p90={pct(late, 90):.1f} ms p99={pct(late, 99):.1f} ms worst={max(late):.1f} ms "
          f"mean={statistics.fmean(late):.1f} ms")

# Bot side: "YYYY-MM-DD HH:MM:SS,mmm - <bot> - INFO - started (pid N)" (UTC).
line_re = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) - (\S+) - INFO - started \(pid \d+\)$")
late_bot, counts = [], {}
for path in sorted(glob.glob(os.path.join(work, "log", "*.log"))):
    bot = os.path.basename(path)[:-4]
    counts.setdefault(bot, 0)
    for line in open(path, encoding="utf-8", errors="replace"):
        m = line_re.match(line.rstrip("\n"))
        if not m:
            continue
        second = int(dt.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S")
                     .replace(tzinfo=dt.timezone.utc).timestamp())
        if start <= second < end:
            counts[bot] += 1
            late_bot.append(int(m[2]))

# Daemon side: "<RFC 3339 µs>Z  INFO ...: scheduled run of <bot> for <tick> started (pid N)".
daemon_re = re.compile(r"^(\S+)Z\s+INFO .*scheduled run of (\S+) for (.+?) started \(pid \d+\)")
late_daemon = []
for line in open(os.path.join(work, "intelmqd.stderr"), encoding="utf-8", errors="replace"):
    m = daemon_re.match(line)
    if not m:
        continue
    at = dt.datetime.fromisoformat(m[1][:26]).replace(tzinfo=dt.timezone.utc).timestamp()
    try:
        tick = dt.datetime.strptime(m[3], "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        tick = float(int(at))
    if start <= tick < end:
        late_daemon.append((at - tick) * 1000)

stderr = open(os.path.join(work, "intelmqd.stderr"), encoding="utf-8", errors="replace").read()
skipped_warnings = stderr.count("was skipped")
could_not_start = stderr.count("could not start")
skipped = {row["bot_id"]: (row.get("schedule") or {}).get("skipped_ticks", 0) for row in status}

print()
print(f"window: {expected} s = {expected} ticks expected per bot, {bots} bots, {expected * bots} runs expected")
summary("lateness, bot side (bot's own clock after exec: wake-up + spawn + bot start-up)", late_bot)
summary("lateness, daemon side (intelmqd log line after spawn + pid file: wake-up + spawn + bookkeeping)", late_daemon)
values = sorted(counts.values())
missing = {bot: expected - n for bot, n in counts.items() if n != expected}
print(f"runs per bot: min={values[0] if values else 0} median={statistics.median(values) if values else 0} "
      f"max={values[-1] if values else 0} expected={expected}; bots off the expected count: {len(missing)}"
      + (f" {dict(sorted(missing.items()))}" if missing else ""))
print(f"runs in the window: {sum(values)} of {expected * bots} expected")
print(f"skipped ticks (status, whole run): {sum(skipped.values())}; 'was skipped' warnings: "
      f"{skipped_warnings}; 'could not start': {could_not_start}")
EOF
