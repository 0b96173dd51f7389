-- Client credentials grants: no user, no refresh token; the client secret's verification is
-- cached, so no Argon2 on a warm server.
package.path = "scripts/wrk/?.lua;" .. package.path
local common = require("common")

wrk.method = "POST"
wrk.headers = common.headers
wrk.body = "grant_type=client_credentials"
done = common.done
