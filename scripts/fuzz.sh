#!/usr/bin/env bash
# Fuzzes the token request parser and client authentication (fuzz/fuzz_targets/token_request.rs)
# for SECONDS seconds with libFuzzer, through cargo-fuzz.
#
#   scripts/fuzz.sh SECONDS
#
# Inputs: the committed seeds in fuzz/seeds/token_request (read only) and the working corpus in
# fuzz/corpus/token_request (git-ignored, grows between runs). Prints the number of executions;
# exits non-zero if an input crashed the target (panic, failed invariant, > 10 s or > 2 GB for
# one input), after printing the input and how to reproduce it. The crashing input is kept in
# fuzz/artifacts/token_request/.
#
# Toolchain: only stable Rust is assumed. cargo-fuzz targets nightly, but with
# `--sanitizer none` (the default here) it passes rustc no `-Z` flag at all: only stable
# `-C` options (sancov coverage instrumentation, debug assertions, overflow checks) and
# `--cfg fuzzing`. RUSTC_BOOTSTRAP=1 is still exported, so that cargo-fuzz versions or options
# that do pass `-Z` flags (FUZZ_SANITIZER=address uses `-Zsanitizer=address`) build on stable,
# and so that every run builds with the same environment (no needless rebuilds).
# Why no AddressSanitizer by default: the crate and the parsing path have no `unsafe` code, so
# ASan would find next to nothing that a panic or a failed assertion doesn't already, while it
# slows each execution a few times and means a second instrumented build of every dependency.
# FUZZ_SANITIZER=address opts in.
#
# Settings (environment): FUZZ_SANITIZER (none), CARGO_FUZZ_VERSION (0.13.2),
# FUZZ_INSTALL_TIMEOUT (900 s), FUZZ_BUILD_TIMEOUT (2400 s; the first build compiles the whole
# crate and its AWS dependencies with instrumentation: about 8 minutes on 2 cores),
# FUZZ_CMIN_ABOVE (5000: minimise the working corpus first when it holds more inputs).
# Needs no terminal or stdin (CI=true is fine).
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

usage() { echo "usage: $0 SECONDS" >&2; exit 2; }
[[ $# -eq 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
FUZZ_SECONDS=$1

TARGET=token_request
SANITIZER=${FUZZ_SANITIZER:-none}
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
INSTALL_TIMEOUT=${FUZZ_INSTALL_TIMEOUT:-900}
BUILD_TIMEOUT=${FUZZ_BUILD_TIMEOUT:-2400}
CMIN_ABOVE=${FUZZ_CMIN_ABOVE:-5000}
ROOT=$PWD
SEEDS=$ROOT/fuzz/seeds/$TARGET
CORPUS=$ROOT/fuzz/corpus/$TARGET
DICT=$ROOT/fuzz/$TARGET.dict
LOG=$ROOT/fuzz/target/$TARGET.log

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_PROGRESS_WHEN=never

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION: 'cargo install cargo-fuzz --locked' builds the 'cargo fuzz' subcommand from crates.io into ~/.cargo/bin (one-time, about a minute)"
    timeout "$INSTALL_TIMEOUT" cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" ||
        { echo "error: installing cargo-fuzz failed or took over $INSTALL_TIMEOUT s" >&2; exit 1; }
fi

# libfuzzer-sys compiles libFuzzer's C++ sources.
if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null && ! command -v clang++ >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "==> installing g++ (libfuzzer-sys compiles libFuzzer, which is C++)"
        timeout "$INSTALL_TIMEOUT" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" apt-get install -y -qq g++
    else
        echo "error: a C++ compiler (g++ or clang++) is needed to build libFuzzer" >&2
        exit 1
    fi
fi

echo "==> building fuzz target $TARGET (sanitizer: $SANITIZER; the first build takes several minutes)"
timeout "$BUILD_TIMEOUT" cargo fuzz build --sanitizer "$SANITIZER" "$TARGET" ||
    { echo "error: building the fuzz target failed or took over $BUILD_TIMEOUT s" >&2; exit 1; }

mkdir -p "$CORPUS" "$(dirname "$LOG")"
# libFuzzer only ever adds files to the working corpus; past a few thousand, keep the minimal
# set with the same coverage (cargo fuzz cmin: libFuzzer -merge=1; seconds).
corpus_files=$(find "$CORPUS" -type f | wc -l)
if [[ $corpus_files -gt $CMIN_ABOVE ]]; then
    echo "==> minimising the working corpus ($corpus_files inputs)"
    timeout 600 cargo fuzz cmin --sanitizer "$SANITIZER" "$TARGET" "$CORPUS" -- -max_len=12288 \
        >"$LOG" 2>&1 || { echo "warning: corpus minimisation failed; see $LOG" >&2; }
fi
echo "==> fuzzing $TARGET for $FUZZ_SECONDS s (corpus: fuzz/corpus/$TARGET, seeds: fuzz/seeds/$TARGET, full log: ${LOG#"$ROOT"/})"
# The first corpus directory is where libFuzzer saves new inputs; the seeds are only read.
# -timeout: one input taking over 10 s is a failure; -max_len leaves room for parameters over
# the 4096-byte limit. `timeout` is a backstop in case libFuzzer does not stop by itself.
started=$(date +%s)
set +e
timeout -k 30 "$((FUZZ_SECONDS + 300))" \
    cargo fuzz run --sanitizer "$SANITIZER" "$TARGET" "$CORPUS" "$SEEDS" -- \
    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -dict="$DICT" \
    -max_len=12288 -timeout=10 -rss_limit_mb=2048 \
    2>&1 | tee "$LOG" | grep --line-buffered -E '^(#[0-9]+[[:space:]]+(INITED|pulse|DONE))|^INFO: (Seed|Loaded|-max_len)'
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - started ))

final_stat() { grep -o "stat::$1: *[0-9]*" "$LOG" | tail -n 1 | grep -o '[0-9]*$' || true; }
executions=$(final_stat number_of_executed_units)
echo "==> executions: ${executions:-unknown} in ${elapsed} s (about $(( ${executions:-0} / (elapsed > 0 ? elapsed : 1) ))/s, start-up included); new inputs: $(final_stat new_units_added); peak RSS: $(final_stat peak_rss_mb) MB; corpus: $(find "$CORPUS" -type f | wc -l) inputs"

if [[ $status -eq 0 ]]; then
    echo "==> no crash"
    exit 0
fi
if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "error: the fuzzer did not stop on time (status $status); log: $LOG" >&2
    exit 1
fi
echo "==> FAILED (status $status); the end of the log:" >&2
tail -n 60 "$LOG" >&2
if grep -q 'panicked at' "$LOG"; then
    echo "==> the panic:" >&2
    grep -A 3 'panicked at' "$LOG" | grep -v -E '^(stack backtrace:|note: )' | head -n 8 >&2
fi
artifact=$(grep -o 'Test unit written to [^ ]*' "$LOG" | tail -n 1 | cut -d' ' -f5- || true)
if [[ -n $artifact && -f $artifact ]]; then
    echo "==> crashing input: $artifact ($(wc -c <"$artifact") bytes), shown with cat -v:" >&2
    head -c 4096 "$artifact" | cat -v >&2
    echo >&2
    echo "==> reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $SANITIZER $TARGET $artifact" >&2
fi
exit 1
