#!/usr/bin/env bash
# `make bench`: runs the criterion benchmarks and writes their medians, with the machine and
# the command, to BENCHMARKS.md (and prints the same table), so runs compare across commits.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo bench --bench grants (release build; a few minutes)"
cargo bench --bench grants -- --noplot >/dev/null
echo "==> cargo bench --bench timing (interleaved rounds, for the ratios)"
cargo bench --bench timing

echo "==> the grants against moto (DynamoDB-compatible, 127.0.0.1): latency and DynamoDB calls per grant"
[ -d .venv ] || make --no-print-directory dev-deps
cargo bench --bench moto

echo "==> throughput of the local server (release, memory store) under wrk on loopback, ${LOAD_SECONDS:=10} s per grant"
if ! command -v wrk >/dev/null; then
    echo "    installing wrk (apt)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --bin token-endpoint
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/token-endpoint --store memory --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/.well-known/oauth-authorization-server" && break
    sleep 0.1
done
URL="http://127.0.0.1:$PORT/o/token/"
# Refreshes: one connection per thread, each chaining its own single-use tokens.
wrk -t2 -c2 -d"${LOAD_SECONDS}s" -s scripts/wrk/refresh.lua "$URL" | grep '^WRK_RESULT' | cut -d' ' -f2- > target/wrk-refresh.json
wrk -t2 -c8 -d"${LOAD_SECONDS}s" -s scripts/wrk/client_credentials.lua "$URL" | grep '^WRK_RESULT' | cut -d' ' -f2- > target/wrk-client-credentials.json
wrk -t2 -c4 -d"${LOAD_SECONDS}s" -s scripts/wrk/password.lua "$URL" | grep '^WRK_RESULT' | cut -d' ' -f2- > target/wrk-password.json
kill $SERVER 2>/dev/null || true
cat target/wrk-*.json

LAMBDA_LOG=target/lambda-measurements.txt
if [ -x .aws-sam/build/TokenFunction-Shared/bootstrap ] && [ -d .venv ] && [ -d .venv-sam ]; then
    echo "==> cold start and peak memory of the sam-built bootstrap under the Runtime Interface Emulator"
    AWS_LAMBDA_RIE="$(ls .venv-sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64)" \
    LAMBDA_BOOTSTRAP="$PWD/.aws-sam/build/TokenFunction-Shared/bootstrap" \
        cargo test --release --test e2e lambda_emulator -- --ignored --nocapture 2>&1 | tee "$LAMBDA_LOG" | grep -E "cold start|peak" || true
else
    echo "(no sam build or test tools yet: run make test once for the Lambda measurements)" | tee "$LAMBDA_LOG"
fi

python3 - <<'PY'
import datetime, json, os, pathlib, platform, subprocess

root = pathlib.Path("target/criterion")

def median_ms(name):
    path = root / name / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"] / 1e6

rows = []
def row(label, value, target):
    rows.append((label, value, target))

# Ratios come from the interleaved run (benches/timing.rs): both sides measured round by
# round, so drift in the machine's speed cancels out.
timing = json.loads(pathlib.Path("target/timing.json").read_text())
verify, password = timing["argon2id_verify_ms"], timing["password_grant_ms"]
wrong, unknown, locked = timing["wrong_password_ms"], timing["unknown_user_ms"], timing["locked_user_ms"]
refresh = median_ms("refresh_grant_memory_store")
row("Argon2id verify, m=19 MiB t=2 p=1 (criterion)", f"{median_ms('argon2id_verify_default_params'):.2f} ms", "")
row("password grant, memory store, through the router (criterion)", f"{median_ms('password_grant_memory_store'):.2f} ms", "")
row("refresh grant, memory store, through the router (criterion)", f"{refresh * 1000:.1f} µs", "no Argon2")
row(f"interleaved, {timing['rounds']} rounds: bare Argon2id verify", f"{verify:.2f} ms", "the floor")
row("interleaved: password grant", f"{password:.2f} ms", "")
row("password grant / bare verify", f"{password / verify:.3f}", "<= 1.05")
row("interleaved: refused, wrong password", f"{wrong:.2f} ms", "")
row("interleaved: refused, unknown user", f"{unknown:.2f} ms", "")
row("interleaved: refused, locked caller (no Argon2)", f"{locked:.2f} ms", "")
row("unknown user / wrong password", f"{unknown / wrong:.3f}", "1.00 ± 0.05")
row("locked caller / wrong password", f"{locked / wrong:.3f}", "1.00 ± 0.05")
moto = json.loads(pathlib.Path("target/moto.json").read_text())
# Write units, for items under 1 KB: one per single-item write (a refused conditional write is
# charged too), two per item of a transaction; the password grant's transaction puts 3 items.
def write_units(operations, transaction_items):
    single = sum(1 for op in operations if op in ("UpdateItem", "DeleteItem", "PutItem"))
    return single + (2 * transaction_items if "TransactWriteItems" in operations else 0)
def mix(operations):
    return " + ".join(f"{operations.count(op)} {op}" if operations.count(op) > 1 else op for op in sorted(set(operations)))
for grant, label, transaction_items in [("password", "password grant", 3), ("refresh_token", "refresh grant", None), ("client_credentials", "client credentials grant", None)]:
    m = moto[grant]
    calls = str(m["calls_min"]) if m["calls_min"] == m["calls_max"] else f'{m["calls_min"]}–{m["calls_max"]}'
    row(f"moto: {label}, DynamoDB calls / sequential round trips", f'{calls} / {m["round_trips"]}', "round trips: 2")
    row(f"moto: {label}, operations", mix(m["operations"]), "")
    if transaction_items:
        row(f"moto: {label}, write units", str(write_units(m["operations"], transaction_items)), "before this round: 6 (+2 after failures)")
    row(f"moto: {label}, p50 / p99 of {m['requests']}", f'{m["p50_ms"]:.1f} / {m["p99_ms"]:.1f} ms', "")
for name, label, before in [("wrong_password", "wrong password", "2 calls, 1 write unit"), ("unknown_user", "unknown user", "2 calls, 1 write unit"), ("locked", "locked address", "1 call, no write")]:
    r = moto["refusals"][name]
    row(f"moto: refused, {label}: operations, round trips, write units", f'{mix(r["operations"])}; {r["round_trips"]}; {write_units(r["operations"], 0)}', f"before this round: {before}")
for name, label, shape in [("refresh", "refresh grants", "2 threads × 1 connection, chained tokens"), ("client-credentials", "client credentials grants", "2 threads, 8 connections"), ("password", "password grants", "2 threads, 4 connections")]:
    w = json.loads(pathlib.Path(f"target/wrk-{name}.json").read_text())
    failed = w["non_2xx"] + w["socket_errors"]
    row(f"local server, wrk: {label} ({shape})", f'{w["requests_per_second"]:,.0f} req/s, p50 {w["p50_ms"]:.2f} ms, p99 {w["p99_ms"]:.2f} ms', f"{failed} failed")

import re
lambda_log = pathlib.Path("target/lambda-measurements.txt").read_text() if pathlib.Path("target/lambda-measurements.txt").exists() else ""
cold = re.search(r"median ([0-9.]+)", lambda_log)
peak = re.search(r'after 30 password grants: \["([0-9]+) kB"', lambda_log)
if cold:
    row("cold start under the emulator: process start to first token (median of 7)", f"{float(cold.group(1)):.0f} ms", "")
if peak:
    row("peak resident memory, 30 password grants under the emulator", f"{int(peak.group(1)) / 1024:.0f} MiB", "")
bootstrap = pathlib.Path(".aws-sam/build/TokenFunction-Shared/bootstrap")
if bootstrap.exists():
    import zipfile, io
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(bootstrap, "bootstrap")
    row("Lambda bootstrap (sam build)", f"{bootstrap.stat().st_size / 1e6:.1f} MB", "")
    row("deployment zip", f"{len(buffer.getvalue()) / 1e6:.1f} MB", "")

cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
header = [
    "# Benchmarks",
    "",
    f"Produced by `make bench` (`scripts/bench.sh`, criterion medians) on {datetime.date.today().isoformat()},",
    f"{os.cpu_count()} × {cpu}, {platform.system()} {platform.machine()}, release profile.",
    "DynamoDB calls are counted per request by the SDK interceptor that feeds the log line (`telemetry::store_timing`)",
    "and asserted by `tests/store/dynamodb_grants.rs`; round trips are counted by an interceptor that records when requests leave and answers arrive",
    "(`tests/support/src/operation_log.rs`): calls sent together (the password grant's read and attempt-taking write) share a round trip.",
    "wrk runs on the same 2 cores as the server it loads, so throughput figures are a floor.",
    "",
    "| measure | median | target |",
    "|---|---|---|",
]
table = [f"| {label} | {value} | {target} |" for label, value, target in rows]
text = "\n".join(header + table) + "\n"
pathlib.Path("BENCHMARKS.md").write_text(text)
print(text)
PY
