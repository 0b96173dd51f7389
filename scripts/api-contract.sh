#!/usr/bin/env bash
# The API contract, against the local server (memory store, demo client):
#   1. openapi.yaml is a valid OpenAPI 3.1 document (openapi-spec-validator);
#   2. the real answers to known requests, every endpoint's success and each documented error,
#      conform to it: status, declared headers, Content-Type and body
#      (tests/contract/check_responses.py);
#   3. schemathesis, with every check and a bounded, reproducible budget, finds no 5xx and no
#      answer that breaks the schema;
# then checks that the server never panicked, and stops it.
#
#   scripts/api-contract.sh
#   API_CONTRACT_MAX_EXAMPLES=500 API_CONTRACT_SEED=7 scripts/api-contract.sh   # a longer, seeded random run
#
# By default schemathesis runs in its deterministic mode (the same test cases every run, at most
# API_CONTRACT_MAX_EXAMPLES per operation and phase); API_CONTRACT_SEED=N explores other inputs,
# reproducibly for the same N.
#
# The Python tools come from .venv (requirements-dev.txt), which is created and filled if the
# tools are missing. Needs nothing on stdin; output under target/api-contract/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
CARGO=${CARGO:-cargo}
MAX_EXAMPLES=${API_CONTRACT_MAX_EXAMPLES:-100}
SEED=${API_CONTRACT_SEED:-}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=$TARGET_DIR/api-contract
SERVER_LOG=$WORK/server.log
mkdir -p "$WORK"
started=$SECONDS
# Hypothesis (under schemathesis) keeps its caches here rather than in .hypothesis/.
export HYPOTHESIS_STORAGE_DIRECTORY=$WORK/hypothesis

tools_present() {
    "$VENV/bin/python" -c 'import schemathesis, openapi_spec_validator, jsonschema, referencing, yaml' 2>/dev/null
}
if [[ ! -x $VENV/bin/python ]]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
fi
if ! tools_present; then
    echo "==> installing the test tools (requirements-dev.txt) into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt </dev/null
    if ! tools_present; then
        echo "api-contract: schemathesis, openapi-spec-validator, jsonschema or PyYAML is not in requirements-dev.txt" >&2
        exit 1
    fi
fi

echo "==> openapi-spec-validator openapi.yaml"
"$VENV/bin/openapi-spec-validator" openapi.yaml </dev/null

echo "==> cargo build --bin token-endpoint"
"$CARGO" build --quiet --bin token-endpoint </dev/null

port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base_url=http://127.0.0.1:$port

# The memory store seeds the demo client and user; the metadata's issuer comes from the request.
env -u ISSUER -u SCOPES_SUPPORTED -u AWS_LAMBDA_RUNTIME_API \
    "$TARGET_DIR/debug/token-endpoint" --store memory --port "$port" </dev/null >"$SERVER_LOG" 2>&1 &
server_pid=$!

finish() {
    local status=$?
    if kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 ]]; then
        echo "api-contract: FAILED after $((SECONDS - started)) s; the server's log is $SERVER_LOG. Its errors:" >&2
        grep -E 'panicked|"level":"ERROR"' "$SERVER_LOG" | tail -n 20 >&2 || true
    fi
    exit "$status"
}
trap finish EXIT

echo "==> starting the local server on $base_url"
for _ in $(seq 1 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "api-contract: the server exited at start:" >&2
        tail -n 20 "$SERVER_LOG" >&2
        exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "api-contract: the server did not answer on $base_url within 30 s" >&2
    exit 1
fi

echo "==> known requests, every answer checked against openapi.yaml"
"$VENV/bin/python" tests/contract/check_responses.py --spec openapi.yaml --base-url "$base_url" </dev/null

if [[ -n $SEED ]]; then
    generation=(--seed "$SEED")
    echo "==> schemathesis: every check, at most $MAX_EXAMPLES examples per operation, seed $SEED"
else
    generation=(--generation-deterministic)
    echo "==> schemathesis: every check, at most $MAX_EXAMPLES examples per operation, deterministic"
fi
# Lines are cut at 2,000 characters: a failure's curl line can carry a 64 KiB body.
"$VENV/bin/schemathesis" --config-file tests/contract/schemathesis.toml --no-color run openapi.yaml \
    --url "$base_url" \
    --auth demo-client:demo-secret \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    "${generation[@]}" \
    --workers 1 \
    --request-timeout 15 \
    --report junit --report-junit-path "$WORK/schemathesis-junit.xml" \
    </dev/null 2>&1 | cut -c -2000 | tee "$WORK/schemathesis.log"
if grep -q 'Could not resolve request body' "$WORK/schemathesis.log"; then
    echo "    (expected: the RefreshTheGrant link cannot be followed from a client_credentials answer, which has no refresh_token)"
fi

if grep -q 'panicked' "$SERVER_LOG"; then
    echo "api-contract: the server panicked:" >&2
    grep -A3 'panicked' "$SERVER_LOG" >&2
    exit 1
fi
echo "==> API contract: passed in $((SECONDS - started)) s"
