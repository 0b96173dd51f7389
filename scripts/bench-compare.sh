#!/usr/bin/env bash
# `make bench-compare BASE=<git rev>`: an A/B benchmark of this working tree (uncommitted
# changes included) against BASE, on this machine, in interleaved rounds.
#
# - BASE is checked out with `git worktree add --detach` under target/bench-compare/base-<sha>/src
#   and built there with its own CARGO_TARGET_DIR, so later runs against the same BASE reuse it.
# - Both sides run `token-endpoint --store memory` on 127.0.0.1 for the whole comparison.
# - For ROUNDS rounds, each grant is driven by wrk (scripts/wrk/*.lua of this tree, for both
#   sides) for RUN_SECONDS on one side, then the other; which side goes first alternates.
# - Server CPU per grant: the CPU time of all the server's threads (/proc/PID/task/*/schedstat,
#   nanoseconds; /proc/PID/stat utime+stime in clock ticks if a thread exited during the run)
#   over the run, divided by the run's successful requests.
#
# Settings (environment):
#   ROUNDS=5 RUN_SECONDS=3         rounds, and seconds per wrk run
#   BENCH_COMPARE_PROFILE=fast     thin LTO and 16 codegen units for both sides (faster builds);
#                                  any CARGO_PROFILE_RELEASE_* variable also applies to both sides.
#                                  Default: the shipped release profile (fat LTO, a few minutes per side).
#   GRANTS="refresh client_credentials password"
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -z "${BASE:-}" ]; then
    echo "bench-compare: BASE is required: make bench-compare BASE=<git rev> (a commit, branch or tag)" >&2
    exit 2
fi
BASE_SHA=$(git rev-parse --verify --quiet "${BASE}^{commit}") || {
    echo "bench-compare: BASE=$BASE is not a commit here" >&2
    exit 2
}
export ROUNDS=${ROUNDS:-5} RUN_SECONDS=${RUN_SECONDS:-3}
export GRANTS=${GRANTS:-refresh client_credentials password}

case "${BENCH_COMPARE_PROFILE:-release}" in
    release) ;;
    fast)
        export CARGO_PROFILE_RELEASE_LTO=${CARGO_PROFILE_RELEASE_LTO:-thin}
        export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-16}
        ;;
    *) echo "bench-compare: BENCH_COMPARE_PROFILE is release (the default) or fast" >&2; exit 2 ;;
esac
PROFILE_OVERRIDES=$(env | grep '^CARGO_PROFILE_RELEASE_' | sort | tr '\n' ' ' || true)
export PROFILE_DESCRIPTION="release profile of each side's Cargo.toml${PROFILE_OVERRIDES:+, overridden by: $PROFILE_OVERRIDES}"

if ! command -v wrk >/dev/null; then
    echo "==> installing wrk (apt)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

# The BASE checkout: reused while it is at BASE_SHA; registrations of deleted ones (say, after
# `cargo clean`) are pruned.
WORK=$ROOT/target/bench-compare
BASE_DIR=$WORK/base-${BASE_SHA:0:12}
git worktree prune
if [ "$(git -C "$BASE_DIR/src" rev-parse HEAD 2>/dev/null || true)" != "$BASE_SHA" ]; then
    if [ -e "$BASE_DIR/src" ]; then
        git worktree remove --force "$BASE_DIR/src" 2>/dev/null || rm -rf "$BASE_DIR/src"
        git worktree prune
    fi
    mkdir -p "$BASE_DIR"
    git worktree add --detach --quiet "$BASE_DIR/src" "$BASE_SHA"
fi

echo "==> building BASE ${BASE_SHA:0:12} in $BASE_DIR/src (${PROFILE_DESCRIPTION})"
(cd "$BASE_DIR/src" && CARGO_TARGET_DIR="$BASE_DIR/target" cargo build --release --bin token-endpoint)
echo "==> building NEW: this working tree"
env -u CARGO_TARGET_DIR cargo build --release --bin token-endpoint

# Copies, so a build started elsewhere during the run cannot swap a binary under a server.
RUN=$WORK/run
mkdir -p "$RUN"
cp "$BASE_DIR/target/release/token-endpoint" "$RUN/base-token-endpoint"
cp target/release/token-endpoint "$RUN/new-token-endpoint"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
SERVERS=()
cleanup() {
    for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
start_server() { # side port
    # Request logs go to /dev/null (writing them is part of the CPU measured); start-up errors
    # to a file.
    env -u PORT -u TOKEN_STORE -u AWS_LAMBDA_RUNTIME_API -u AWS_LAMBDA_FUNCTION_NAME \
        "$RUN/$1-token-endpoint" --store memory --port "$2" >/dev/null 2>"$RUN/$1-server.stderr" &
    SERVERS+=($!)
    echo $! > "$RUN/$1.pid"
    for _ in $(seq 200); do
        if ! kill -0 "$!" 2>/dev/null; then
            echo "bench-compare: the $1 server stopped:" >&2
            cat "$RUN/$1-server.stderr" >&2
            exit 1
        fi
        python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $2), timeout=1)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench-compare: the $1 server did not listen on 127.0.0.1:$2 within 20 s" >&2
    exit 1
}
BASE_PORT=$(free_port)
start_server base "$BASE_PORT"
NEW_PORT=$(free_port)
start_server new "$NEW_PORT"

export BASE_PORT NEW_PORT BASE_SHA RUN
export BASE_PID=$(cat "$RUN/base.pid") NEW_PID=$(cat "$RUN/new.pid")
export NEW_DESCRIPTION="$(git rev-parse --short=12 HEAD)$( [ -n "$(git status --porcelain --untracked-files=no)" ] && echo ' + uncommitted changes')"
export BASE_DESCRIPTION="${BASE_SHA:0:12} (BASE=$BASE)"
echo "==> $ROUNDS interleaved rounds of ${RUN_SECONDS} s per grant and side: $GRANTS"

python3 - <<'PY'
import glob, json, os, statistics, subprocess, sys

rounds, seconds = int(os.environ["ROUNDS"]), int(os.environ["RUN_SECONDS"])
sides = {
    "BASE": {"pid": int(os.environ["BASE_PID"]), "port": int(os.environ["BASE_PORT"])},
    "NEW": {"pid": int(os.environ["NEW_PID"]), "port": int(os.environ["NEW_PORT"])},
}
# wrk shapes: refreshes chain single-use tokens, one connection per thread (2 chains); the others
# as in scripts/bench.sh.
shapes = {
    "refresh": ("refresh.lua", 2, 2, "2 chained refresh loops"),
    "client_credentials": ("client_credentials.lua", 2, 8, "2 threads, 8 connections"),
    "password": ("password.lua", 2, 4, "2 threads, 4 connections"),
}
grants = os.environ["GRANTS"].split()
unknown = [g for g in grants if g not in shapes]
if unknown:
    sys.exit(f"bench-compare: unknown grant(s) {unknown}; choose from {list(shapes)}")

CLK_TCK = os.sysconf("SC_CLK_TCK")

def cpu_sample(pid):
    """CPU time of the process so far: per thread in ns (schedstat), and utime+stime in ticks."""
    threads = {}
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                threads[path.split("/")[4]] = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat (utime, stime) are 12 and 13 here, after pid and comm.
    ticks = int(fields[11]) + int(fields[12])
    return threads, ticks

def cpu_seconds(before, after):
    threads_before, ticks_before = before
    threads_after, ticks_after = after
    if threads_before and set(threads_before) <= set(threads_after):
        return sum(threads_after.values()) - sum(threads_before.values()), "schedstat"
    # A thread exited during the run (its schedstat is gone): the process's stat still counts it.
    return (ticks_after - ticks_before) / CLK_TCK * 1e9, "stat"

def wrk(side, grant, duration):
    script, threads, connections, _ = shapes[grant]
    url = f"http://127.0.0.1:{sides[side]['port']}/o/token/"
    pid = sides[side]["pid"]
    before = cpu_sample(pid)
    run = subprocess.run(
        ["timeout", str(duration + 30), "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
         "-s", f"scripts/wrk/{script}", url],
        capture_output=True, text=True, env={**os.environ, "WRK_CLIENT": "opaque"})
    after = cpu_sample(pid)
    lines = [l for l in run.stdout.splitlines() if l.startswith("WRK_RESULT ")]
    if run.returncode != 0 or not lines:
        sys.exit(f"bench-compare: wrk failed on {side} {grant} (exit {run.returncode}):\n{run.stdout}{run.stderr}")
    result = json.loads(lines[-1].split(" ", 1)[1])
    ns, source = cpu_seconds(before, after)
    ok = result["requests"] - result["non_2xx"]
    result.update(cpu_ns=ns, cpu_source=source, ok=ok,
                  cpu_us_per_grant=ns / 1000 / ok if ok else float("nan"),
                  failed=result["non_2xx"] + result["socket_errors"])
    return result

# Warm-up, not counted: the first requests fill caches (a client secret's verification, say).
for grant in grants:
    for side in sides:
        wrk(side, grant, 1)

results = {grant: {"BASE": [], "NEW": []} for grant in grants}
for r in range(rounds):
    order = ["BASE", "NEW"] if r % 2 == 0 else ["NEW", "BASE"]
    for grant in grants:
        for side in order:
            results[grant][side].append(wrk(side, grant, seconds))
    line = "; ".join(
        f"{g} " + " ".join(f"{s} {results[g][s][-1]['cpu_us_per_grant']:.1f}" for s in ("BASE", "NEW"))
        for g in grants)
    print(f"    round {r + 1}/{rounds}: µs CPU per grant: {line}", flush=True)

cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
def compilers():
    names = subprocess.run(["ps", "-eo", "comm="], capture_output=True, text=True).stdout.split()
    return sum(n in ("rustc", "clippy-driver", "cc1", "cc1plus", "ld.lld", "zig") for n in names)
load = open("/proc/loadavg").read().split()[0]
print()
print(f"machine: {os.cpu_count()} × {cpu_model}; 1-min load {load}, {compilers()} compilers running at the end (wrk shares the cores)")
print(f"BASE:    {os.environ['BASE_DESCRIPTION']}")
print(f"NEW:     {os.environ['NEW_DESCRIPTION']} (this working tree)")
print(f"build:   {os.environ['PROFILE_DESCRIPTION']}")
print(f"runs:    {rounds} interleaved rounds × {seconds} s per grant and side; medians over rounds, [min–max];")
print("         ratio: median over rounds of NEW/BASE within the round (paired, so drift cancels out)")
failed_total = 0
summary = {}
for grant in grants:
    base, new = results[grant]["BASE"], results[grant]["NEW"]
    def med(runs, key): return statistics.median(x[key] for x in runs)
    def spread(runs, key): return f"[{min(x[key] for x in runs):.1f}–{max(x[key] for x in runs):.1f}]"
    cpu_ratios = [n["cpu_us_per_grant"] / b["cpu_us_per_grant"] for b, n in zip(base, new)]
    rps_ratios = [n["requests_per_second"] / b["requests_per_second"] for b, n in zip(base, new)]
    failed = sum(x["failed"] for x in base + new)
    failed_total += failed
    stat_runs = sum(x["cpu_source"] == "stat" for x in base + new)
    print()
    print(f"{grant} ({shapes[grant][3]}){f'; {failed} FAILED requests' if failed else ''}"
          f"{f'; {stat_runs} runs timed from /proc/PID/stat ticks' if stat_runs else ''}")
    print(f"  {'':24} {'BASE':>26} {'NEW':>26} {'NEW/BASE':>22}")
    print(f"  {'throughput, req/s':24} {med(base, 'requests_per_second'):>26,.0f} {med(new, 'requests_per_second'):>26,.0f}"
          f" {statistics.median(rps_ratios):>8.3f} [{min(rps_ratios):.3f}–{max(rps_ratios):.3f}]")
    b_cpu = f"{med(base, 'cpu_us_per_grant'):.1f} {spread(base, 'cpu_us_per_grant')}"
    n_cpu = f"{med(new, 'cpu_us_per_grant'):.1f} {spread(new, 'cpu_us_per_grant')}"
    print(f"  {'server CPU, µs per grant':24} {b_cpu:>26} {n_cpu:>26}"
          f" {statistics.median(cpu_ratios):>8.3f} [{min(cpu_ratios):.3f}–{max(cpu_ratios):.3f}]")
    summary[grant] = {"runs": results[grant], "cpu_ratio": statistics.median(cpu_ratios),
                      "throughput_ratio": statistics.median(rps_ratios)}
with open(os.path.join(os.environ["RUN"], "results.json"), "w") as f:
    json.dump({"base": os.environ["BASE_DESCRIPTION"], "new": os.environ["NEW_DESCRIPTION"],
               "build": os.environ["PROFILE_DESCRIPTION"], "grants": summary}, f, indent=1)
if failed_total:
    print(f"\nbench-compare: {failed_total} requests failed (non-2xx or socket errors); the figures are not comparable")
    sys.exit(1)
PY
