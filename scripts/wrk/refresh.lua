-- Refresh grants, chained: each thread logs in once, then refreshes with the refresh token of
-- its previous answer, so every request uses a fresh single-use token. Run with as many
-- connections as threads (-c = -t), so each thread's requests go one at a time.
package.path = "scripts/wrk/?.lua;" .. package.path
local common = require("common")

local refresh_token = nil

request = function()
    local body
    if refresh_token == nil then
        body = "grant_type=password&username=demo&password=demo-password"
    else
        body = "grant_type=refresh_token&refresh_token=" .. refresh_token
    end
    return wrk.format("POST", nil, common.headers, body)
end

response = function(status, headers, body)
    local token = body:match('"refresh_token": "([A-Za-z0-9._~-]+)"')
    if status == 200 and token then
        refresh_token = token
    else
        -- Start again from a login rather than repeat a refused token.
        refresh_token = nil
    end
end

done = common.done
