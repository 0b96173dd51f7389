-- Shared by the wrk scripts of `make bench`: a demo client's Basic credentials and a JSON
-- summary line that scripts/bench.sh reads ("WRK_RESULT {...}").
local common = {}

-- WRK_CLIENT=jwt: the demo client whose access tokens are JWTs, otherwise the opaque one.
local basic = {
    -- base64("demo-client:demo-secret")
    opaque = "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=",
    -- base64("demo-jwt-client:demo-jwt-secret")
    jwt = "Basic ZGVtby1qd3QtY2xpZW50OmRlbW8tand0LXNlY3JldA==",
}
local client = os.getenv("WRK_CLIENT") or "opaque"
assert(basic[client], "WRK_CLIENT must be opaque or jwt, not " .. client)

common.headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic[client],
}

function common.done(summary, latency)
    local seconds = summary.duration / 1e6
    local errors = summary.errors
    io.write(string.format(
        'WRK_RESULT {"requests": %d, "seconds": %.3f, "requests_per_second": %.1f, ' ..
        '"p50_ms": %.3f, "p99_ms": %.3f, "non_2xx": %d, "socket_errors": %d}\n',
        summary.requests, seconds, summary.requests / seconds,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end

return common
