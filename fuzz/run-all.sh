#!/usr/bin/env bash
# Runs every fuzz target in turn for DURATION seconds each (default 600),
# seeded (see seed_dirs), after replaying fuzz/regressions/<target>.
# Prints libFuzzer's final stats line per target; exits non-zero if any
# target crashed, hung, ran out of memory or failed to build.
#
#   fuzz/run-all.sh            # 10 minutes per target
#   fuzz/run-all.sh 24         # CI's smoke run: 2 minutes plus the build
#   TARGETS="framing" fuzz/run-all.sh 60
set -uo pipefail

duration="${1:-600}"
case "$duration" in
'' | *[!0-9]*)
    echo "usage: $0 [seconds per target]" >&2
    exit 2
    ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz_dir")"
cd "$root" || exit 2
targets="${TARGETS:-spec framing session decode transcript}"
logs="$fuzz_dir/artifacts/logs"
mkdir -p "$logs"

# cargo-fuzz needs nightly-only flags; stable accepts them with this.
export RUSTC_BOOTSTRAP=1
# The code under test is safe Rust: stack use-after-return and allocation
# stacks cost a quarter of the rate and find nothing there; a small
# quarantine keeps the RSS limit about the fuzzed code, not ASan's bookkeeping.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_stack_use_after_return=0:malloc_context_size=0:quarantine_size_mb=64}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed; installing it (about 4 minutes)"
    cargo install cargo-fuzz --locked || exit 2
fi

echo "building the fuzz targets"
if ! nice -n 10 cargo fuzz build >"$logs/build.log" 2>&1; then
    tail -n 40 "$logs/build.log"
    echo "fuzz build failed" >&2
    exit 1
fi

# Unbounded allocation is a finding: a single allocation over
# malloc_limit_mb or a process over rss_limit_mb stops the run, and so does
# one input running past `timeout` seconds.
common=(-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 -print_final_stats=1)

# Where a target's seeds are: the compiler and transcript targets start from
# the project's own specs, fixtures and suites (read in place, so the seeds
# never lag behind them), the compiler also from fuzz/seeds/spec (syntax the
# specs and fixtures do not all use yet); the others from fuzz/seeds/<target>.
seed_dirs() {
    case "$1" in
    spec) printf '%s\n' "$root/specs" "$root/protocol-dsl/tests/fixtures" "$fuzz_dir/seeds/spec" ;;
    transcript) printf '%s\n' "$root/conformance/suites" ;;
    *) printf '%s\n' "$fuzz_dir/seeds/$1" ;;
    esac
}

# Per-target options: a dictionary of the input's words where there is one,
# and for framing a -max_len just past its largest max (446 bytes), as
# longer inputs only slow it; the largest seed sets -max_len otherwise.
target_args() {
    if [ -f "$fuzz_dir/dicts/$1.dict" ]; then
        echo "-dict=$fuzz_dir/dicts/$1.dict"
    fi
    if [ "$1" = framing ]; then
        echo "-max_len=512"
    fi
}

failed=()
summary=()
for target in $targets; do
    log="$logs/$target.log"
    regressions=("$fuzz_dir/regressions/$target"/*)
    if [ -e "${regressions[0]}" ]; then
        echo "== $target: replaying ${#regressions[@]} regression input(s)"
        if ! nice -n 10 cargo fuzz run "$target" "${regressions[@]}" -- "${common[@]}" \
            >"$log.regressions" 2>&1; then
            tail -n 60 "$log.regressions"
            failed+=("$target (regression)")
            summary+=("$target: a regression input fails again, see $log.regressions")
            continue
        fi
    fi
    echo "== $target: fuzzing for ${duration}s"
    mkdir -p "$fuzz_dir/corpus/$target"
    mapfile -t extra < <(target_args "$target")
    mapfile -t seeds < <(seed_dirs "$target")
    nice -n 10 cargo fuzz run "$target" "$fuzz_dir/corpus/$target" "${seeds[@]}" -- \
        "${common[@]}" "${extra[@]}" -max_total_time="$duration" >"$log" 2>&1
    status=$?
    done_line="$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
    stats_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)"
    if [ "$status" -ne 0 ]; then
        grep -E -A 20 "panicked at|==ERROR|SUMMARY|out-of-memory|malloc\(" "$log" | head -n 60
        artifact="$(grep -o 'Test unit written to .*' "$log" | tail -n 1)"
        failed+=("$target")
        summary+=("$target: FAILED (exit $status) ${artifact:-see $log}")
    else
        summary+=("$target: $stats_line | $done_line")
    fi
done

echo
echo "== fuzzing summary ($duration s per target, $(date -u +%Y-%m-%d))"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
