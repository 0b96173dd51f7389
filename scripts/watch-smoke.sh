#!/usr/bin/env bash
# Smoke test of `cargo lambda watch`: the function, in Lambda mode behind cargo-lambda's local
# runtime, answers a password grant against a moto server provisioned with oauth-admin.
# Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MOTO_PORT=$(free_port)
WATCH_PORT=$(free_port)
LOG_DIR=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    pkill -f "cargo-lambda lambda watch -A 127.0.0.1 -P $WATCH_PORT" 2>/dev/null || true
    rm -rf "$LOG_DIR"
}
trap cleanup EXIT

.venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$LOG_DIR/moto.log" 2>&1 &
PIDS+=($!)

# moto serves KMS too: create-tables makes the signing keys' KMS key and a first key.
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$MOTO_PORT" AWS_ENDPOINT_URL_KMS="http://127.0.0.1:$MOTO_PORT" \
    AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    CREDENTIALS_TABLE=smoke-credentials TOKENS_TABLE=smoke-tokens
unset AWS_PROFILE

cargo build --quiet --bin oauth-admin --bin token-endpoint
for _ in $(seq 50); do curl -s -o /dev/null "$AWS_ENDPOINT_URL_DYNAMODB" && break; sleep 0.2; done
target/debug/oauth-admin create-tables >/dev/null
printf 'smoke-secret\n' | target/debug/oauth-admin create-client --name smoke --scope "read write" \
    --grant-types password,refresh_token --client-id smoke-client --client-secret-stdin >/dev/null
printf 'smoke-password\n' | target/debug/oauth-admin create-user --username smoke --password-stdin >/dev/null

cargo lambda watch -A 127.0.0.1 -P "$WATCH_PORT" >"$LOG_DIR/watch.log" 2>&1 &
PIDS+=($!)

URL="http://127.0.0.1:$WATCH_PORT/lambda-url/token-endpoint/o/token/"
for _ in $(seq 240); do
    status=$(curl -s -o "$LOG_DIR/body" -w '%{http_code}' -u smoke-client:smoke-secret \
        -d 'grant_type=password&username=smoke&password=smoke-password' "$URL" || true)
    if [ "$status" != "000" ]; then break; fi
    sleep 0.5
done
if [ "$status" = "200" ] && grep -q '"token_type": "Bearer"' "$LOG_DIR/body"; then
    echo "cargo lambda watch: password grant answered 200 with a token"
    echo "watch-smoke: 1 passed, 0 failed"
else
    echo "cargo lambda watch: expected 200 with a token, got $status: $(cat "$LOG_DIR/body" 2>/dev/null)" >&2
    tail -20 "$LOG_DIR/watch.log" >&2
    echo "watch-smoke: 0 passed, 1 failed"
    exit 1
fi
