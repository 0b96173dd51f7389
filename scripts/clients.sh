#!/usr/bin/env bash
# Client checks against the local server, as the clients in the API documentation call it:
#  1. the Postman collection (postman/), run with newman: password grant, refresh,
#     introspection, client credentials, revocation, metadata and the documented errors;
#  2. the documentation's curl and HTTPie samples, verbatim, with only their placeholders
#     ({CLIENT_ID}, {CLIENT_SECRET}, {ENV}, {USERNAME}, {PASSWORD}, {REFRESH_TOKEN}) filled in,
#     including HTTPie's https://{CLIENT_ID}:{CLIENT_SECRET}@{ENV}/o/token/ form, through a
#     TLS-terminating proxy (scripts/tls_proxy.py) with a throwaway certificate authority that
#     curl and HTTPie trust through the environment (CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE).
# Installs newman (package.json, exact version) into node_modules/ if missing; HTTPie and
# cryptography come from .venv (requirements-dev.txt). Everything listens on 127.0.0.1 and is
# stopped on exit. Ends with "clients: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

VENV=.venv
DOC=../shared/reference/api-token-endpoint.md # the documentation, where shared/ is beside the clone
# The memory store's demo client and user.
DEMO_CLIENT_ID=demo-client DEMO_CLIENT_SECRET=demo-secret DEMO_USERNAME=demo DEMO_PASSWORD=demo-password

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
# Never the machine's proxy for 127.0.0.1.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1" >&2; }

# --- tools -------------------------------------------------------------------------------------
command -v npm >/dev/null || { echo "clients.sh: needs node and npm" >&2; exit 1; }
if [ ! -x node_modules/.bin/newman ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "==> installing newman (package-lock.json) into node_modules/"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
if [ ! -x "$VENV/bin/http" ] || ! "$VENV/bin/python" -c 'import cryptography' 2>/dev/null; then
    make --no-print-directory dev-deps
fi
if [ ! -x "$VENV/bin/http" ] || ! "$VENV/bin/python" -c 'import cryptography' 2>/dev/null; then
    echo "clients.sh: $VENV lacks HTTPie or cryptography: requirements-dev.txt must list httpie and cryptography" >&2
    exit 1
fi

# Waits for a background process to print a line starting with $2 into file $1; prints the rest.
await_banner() {
    local file=$1 prefix=$2 pid=$3
    for _ in $(seq 300); do
        local line
        line=$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)
        if [ -n "$line" ]; then
            echo "${line#"$prefix"}"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "clients.sh: no '$prefix' line from the process writing $file:" >&2
    cat "$file" >&2
    return 1
}

# --- the local server and the TLS proxy ---------------------------------------------------------
echo "==> building token-endpoint"
cargo build --quiet --bin token-endpoint
env -u AWS_LAMBDA_RUNTIME_API RUST_LOG=warn \
    "${CARGO_TARGET_DIR:-target}/debug/token-endpoint" --store memory --port 0 >"$WORK/server.log" 2>&1 </dev/null &
PIDS+=($!)
TOKEN_URL=$(await_banner "$WORK/server.log" "token endpoint listening on " "${PIDS[-1]}")
BASE_URL=${TOKEN_URL%/o/token/}
HOST_PORT=${BASE_URL#http://}

"$VENV/bin/python" scripts/tls_proxy.py --upstream "$HOST_PORT" --ca-out "$WORK/ca.pem" \
    >"$WORK/proxy.log" 2>"$WORK/proxy.err" </dev/null &
PIDS+=($!)
TLS_URL=$(await_banner "$WORK/proxy.log" "tls proxy listening on " "${PIDS[-1]}")
TLS_HOST_PORT=${TLS_URL#https://}
echo "server: $BASE_URL, behind TLS: $TLS_URL"

# --- 1. the Postman collection ------------------------------------------------------------------
echo "==> newman: postman/token-endpoint.postman_collection.json against $BASE_URL"
newman_status=0
node_modules/.bin/newman run postman/token-endpoint.postman_collection.json \
    --environment postman/local.postman_environment.json \
    --env-var "base_url=$BASE_URL" \
    --reporters cli,json --reporter-json-export "$WORK/newman.json" \
    --timeout-request 10000 </dev/null || newman_status=$?
if [ -s "$WORK/newman.json" ]; then
    read -r requests assertions assertions_failed < <(python3 -c '
import json, sys
stats = json.load(open(sys.argv[1]))["run"]["stats"]
print(stats["requests"]["total"], stats["assertions"]["total"], stats["assertions"]["failed"])
' "$WORK/newman.json")
    passed=$((passed + assertions - assertions_failed))
    failed=$((failed + assertions_failed))
    echo "newman: $requests requests, $assertions assertions, $assertions_failed failed"
fi
if [ "$newman_status" -ne 0 ]; then fail "newman exited $newman_status"; fi

# --- 2. the documentation's samples, verbatim ---------------------------------------------------
# Copied from the documentation (its "Samples"), indentation aside. Where the documentation is
# beside this clone, each copy is checked against it first.
read -r -d '' CURL_GENERATE <<'SAMPLE' || true
curl -i \
    -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -u {CLIENT_ID}:{CLIENT_SECRET} \
    -d "grant_type=password&username={USERNAME}&password={PASSWORD}" \
    {ENV}/o/token/
SAMPLE
read -r -d '' HTTPIE_GENERATE <<'SAMPLE' || true
http -v -f https://{CLIENT_ID}:{CLIENT_SECRET}@{ENV}/o/token/ grant_type=password username={USERNAME} password={PASSWORD}
SAMPLE
read -r -d '' CURL_REFRESH <<'SAMPLE' || true
curl -i \
    -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -u {CLIENT_ID}:{CLIENT_SECRET} \
    -d "grant_type=refresh_token&refresh_token={REFRESH TOKEN}" \
    {ENV}/o/token/
SAMPLE
read -r -d '' HTTPIE_REFRESH <<'SAMPLE' || true
http -v -f https://{CLIENT_ID}:{CLIENT_SECRET}@{ENV}/o/token/ grant_type=refresh_token refresh_token={REFRESH_TOKEN}
SAMPLE

if [ -f "$DOC" ]; then
    for name in CURL_GENERATE HTTPIE_GENERATE CURL_REFRESH HTTPIE_REFRESH; do
        if python3 -c '
import re, sys
squash = lambda text: re.sub(r"\s+", " ", text).strip()
sys.exit(0 if squash(sys.argv[2]) in squash(open(sys.argv[1], encoding="utf-8").read()) else 1)
' "$DOC" "${!name}"; then
            pass "$name is the documentation's sample, verbatim"
        else
            fail "$name is no longer the documentation's sample ($DOC): update scripts/clients.sh"
        fi
    done
else
    echo "($DOC not found: the samples are run as copied, not compared with it)"
fi

# Fills in a sample's placeholders. {ENV}: the curl samples put it in front of /o/token/ as the
# whole base URL (curl would take a bare host as http://), the HTTPie samples after https://.
fill() {
    local text=$1 env=$2 refresh_token=${3:-}
    text=${text//'{CLIENT_ID}'/$DEMO_CLIENT_ID}
    text=${text//'{CLIENT_SECRET}'/$DEMO_CLIENT_SECRET}
    text=${text//'{USERNAME}'/$DEMO_USERNAME}
    text=${text//'{PASSWORD}'/$DEMO_PASSWORD}
    text=${text//'{REFRESH TOKEN}'/$refresh_token}
    text=${text//'{REFRESH_TOKEN}'/$refresh_token}
    text=${text//'{ENV}'/$env}
    printf '%s' "$text"
}

# HTTPie reads a request body from stdin when stdin is not a terminal, and refuses one together
# with key=value fields; a person at a terminal has no such stdin. HTTPie's own configuration
# (not the command) says so, and turns off its update check, which would fork a process that
# calls the internet.
mkdir -p "$WORK/httpie"
printf '{"default_options": ["--ignore-stdin"], "disable_update_warnings": true}\n' >"$WORK/httpie/config.json"

# Runs a filled-in sample as a person pastes it into a shell; output into $2.
run_sample() {
    local command=$1 out=$2
    echo "\$ $command"
    env PATH="$PWD/$VENV/bin:$PATH" \
        CURL_CA_BUNDLE="$WORK/ca.pem" REQUESTS_CA_BUNDLE="$WORK/ca.pem" \
        HTTPIE_CONFIG_DIR="$WORK/httpie" \
        bash -c "$command" >"$out" 2>"$out.err" </dev/null
}

# Checks the last HTTP answer in a sample's output (curl -i prints the answer; http -v prints the
# request, then the answer): 200, no-store, a token answer; for HTTPie, that the URL's
# credentials went out as the Basic header. Prints the refresh token.
check_answer() {
    python3 - "$@" <<'PY'
import base64, json, re, sys

out, label, client, secret = sys.argv[1:5]
not_these = set(sys.argv[5:])
text = open(out, encoding="utf-8", errors="replace").read().replace("\r\n", "\n")
problems = []
starts = [m.start() for m in re.finditer(r"^HTTP/[0-9.]+ [0-9]{3}", text, re.M)]
if not starts:
    sys.exit(f"{label}: no HTTP answer in the output:\n{text}")
request, answer = text[: starts[-1]], text[starts[-1]:]
head, _, body = answer.partition("\n\n")
status_line, *header_lines = head.split("\n")
headers = {}
for line in header_lines:
    name, _, value = line.partition(":")
    headers[name.strip().lower()] = value.strip()
if status_line.split()[1] != "200":
    problems.append(f"status {status_line!r}")
for name, want in [("cache-control", "no-store"), ("pragma", "no-cache")]:
    if headers.get(name) != want:
        problems.append(f"{name}: {headers.get(name)!r}, want {want!r}")
if not headers.get("content-type", "").startswith("application/json"):
    problems.append(f"content-type: {headers.get('content-type')!r}")
try:
    token = json.loads(body)
except ValueError:
    sys.exit(f"{label}: the body is not JSON: {body!r}")
fields = ["access_token", "expires_in", "refresh_token", "scope", "token_type"]
if sorted(token) != fields:
    problems.append(f"fields {sorted(token)}, want {fields}")
for field in ["access_token", "refresh_token"]:
    if not re.fullmatch(r"[A-Za-z0-9]{22}\.[A-Za-z0-9]{30}", str(token.get(field))):
        problems.append(f"{field} {token.get(field)!r} is not a login id, '.' and 30 of [A-Za-z0-9]")
    if token.get(field) in not_these:
        problems.append(f"{field} is an old token")
if token.get("token_type") != "Bearer" or token.get("expires_in") != 3600 or token.get("scope") != "read write":
    problems.append(f"token_type/expires_in/scope: {token}")
if request.strip():  # http -v: the request it sent
    basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
    if f"Authorization: Basic {basic}" not in request:
        problems.append("the URL's credentials were not sent as the Basic header")
if problems:
    sys.exit(f"{label}: " + "; ".join(problems) + f"\n{text}")
print(token["refresh_token"], token["access_token"])
PY
}

# One sample: run it, check the answer; sets ANSWER_REFRESH and ANSWER_ACCESS.
sample() {
    local label=$1 command=$2 out="$WORK/$1.out"; shift 2
    ANSWER_REFRESH='' ANSWER_ACCESS=''
    if ! run_sample "$command" "$out"; then
        fail "$label: the command failed: $(cat "$out.err")"
        return
    fi
    sed 's/^/    /' "$out"
    echo
    local tokens
    if tokens=$(check_answer "$out" "$label" "$DEMO_CLIENT_ID" "$DEMO_CLIENT_SECRET" "$@"); then
        read -r ANSWER_REFRESH ANSWER_ACCESS <<<"$tokens"
        pass "$label: 200 with a token answer"
    else
        fail "$label"
    fi
}

echo "==> the documentation's samples, verbatim, against $TLS_URL"
sample "curl generate" "$(fill "$CURL_GENERATE" "$TLS_URL")"
curl_refresh=$ANSWER_REFRESH curl_access=$ANSWER_ACCESS
sample "curl refresh" "$(fill "$CURL_REFRESH" "$TLS_URL" "$curl_refresh")" "$curl_refresh" "$curl_access"
sample "HTTPie generate" "$(fill "$HTTPIE_GENERATE" "$TLS_HOST_PORT")"
httpie_refresh=$ANSWER_REFRESH httpie_access=$ANSWER_ACCESS
sample "HTTPie refresh" "$(fill "$HTTPIE_REFRESH" "$TLS_HOST_PORT" "$httpie_refresh")" "$httpie_refresh" "$httpie_access"

# Each sample went through the proxy, over TLS: one connection each.
tls_connections=$(grep -c ' TLSv1\.[23] -> ' "$WORK/proxy.err" || true)
if [ "$tls_connections" -eq 4 ]; then
    pass "the 4 samples made 4 TLS connections through the proxy"
else
    fail "the 4 samples made $tls_connections TLS connections through the proxy, want 4: $(cat "$WORK/proxy.err")"
fi

echo "clients.sh took $((SECONDS - started)) s"
echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
