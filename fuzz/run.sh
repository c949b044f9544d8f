#!/usr/bin/env bash
# Bounded fuzzing of intelmqd: builds the cargo-fuzz targets and runs each for
# a fixed time, then (or only, with --regress) replays the saved regression
# inputs. Works on the stable toolchain; see docs/fuzzing.md.
#
#   fuzz/run.sh                       every target, 60 s each, one at a time
#   fuzz/run.sh -t 180 -j 2           180 s each, two targets at once
#   fuzz/run.sh cron config_edit      only these targets
#   fuzz/run.sh --regress             replay fuzz/regressions/<target>/* only
#
# Options (environment variables in brackets):
#   -t SECONDS   time per target                       [FUZZ_SECONDS=60]
#   -j JOBS      targets run at the same time          [FUZZ_JOBS=1]
#   -s SAN       sanitizer: none, address, ...         [FUZZ_SANITIZER=none]
#   --regress    only replay the regression inputs, no fuzzing
#
# Exit status: 0 when no target crashed (and every regression input passes),
# 1 otherwise. Logs: fuzz/target/fuzz-logs/<target>.log. New corpus entries go
# to fuzz/target/fuzz-corpus/<target>/ (kept between runs, not committed);
# the committed seeds in fuzz/corpus/<target>/ are only read. Crashing inputs
# land in fuzz/artifacts/<target>/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-1}"
sanitizer="${FUZZ_SANITIZER:-none}"
regress_only=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        -t) seconds="$2"; shift 2 ;;
        -j) jobs="$2"; shift 2 ;;
        -s) sanitizer="$2"; shift 2 ;;
        --regress) regress_only=1; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=(protocol_decode runtime_conf runtime_yaml defaults_conf pipeline_conf cron config_edit)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

# cargo fuzz only passes nightly-only flags (-Zsanitizer=...) when a sanitizer
# is on; with `-s none` the build is plain stable rustc. For a sanitizer on the
# stable toolchain, let rustc accept the -Z flags.
if [ "$sanitizer" != none ]; then
    export RUSTC_BOOTSTRAP=1
fi

cargo fuzz build -s "$sanitizer"

logs="$here/target/fuzz-logs"
mkdir -p "$logs"
failed=()

# Replays the regression inputs of one target; each must run without a crash.
regress() {
    local target="$1"
    local dir="$here/regressions/$target"
    [ -d "$dir" ] || return 0
    local files=()
    while IFS= read -r -d '' file; do files+=("$file"); done \
        < <(find "$dir" -type f ! -name '*.md' -print0 | sort -z)
    [ ${#files[@]} -gt 0 ] || return 0
    # The switches that tolerate known bugs must not hide them here.
    if env -u FUZZ_CRON_ALLOW_NO_TICK -u FUZZ_EDIT_ALLOW_UNVERIFIED \
        cargo fuzz run -s "$sanitizer" "$target" "${files[@]}" \
        >"$logs/$target.regress.log" 2>&1; then
        echo "regress $target: ${#files[@]} inputs pass"
    else
        echo "regress $target: FAILS, see $logs/$target.regress.log"
        return 1
    fi
}

# Fuzzes one target for $seconds and prints its final figures.
fuzz_one() {
    local target="$1"
    local work="$here/target/fuzz-corpus/$target"
    mkdir -p "$work" "$here/corpus/$target"
    local status=0
    cargo fuzz run -s "$sanitizer" "$target" "$work" "$here/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$logs/$target.log" 2>&1 || status=$?
    local last
    last="$(grep -E '^#[0-9]+' "$logs/$target.log" | tail -n 1 || true)"
    local execs
    execs="$(grep -E '^stat::average_exec_per_sec' "$logs/$target.log" | awk '{print $2}' || true)"
    if [ "$status" -eq 0 ]; then
        echo "fuzz $target: ok, ${execs:-?} exec/s; last: $last"
    else
        echo "fuzz $target: CRASH (exit $status), see $logs/$target.log and artifacts/$target/"
        return 1
    fi
}

for target in "${targets[@]}"; do
    regress "$target" || failed+=("$target (regression)")
done

if [ "$regress_only" -eq 0 ]; then
    running=0
    pids=()
    names=()
    for target in "${targets[@]}"; do
        fuzz_one "$target" &
        pids+=($!)
        names+=("$target")
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then
            wait "${pids[0]}" || failed+=("${names[0]}")
            pids=("${pids[@]:1}")
            names=("${names[@]:1}")
            running=$((running - 1))
        fi
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || failed+=("${names[$i]}")
    done
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all targets passed"
