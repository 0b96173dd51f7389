-- Password grants: the same valid login, over and over (one Argon2 verify each).
package.path = "scripts/wrk/?.lua;" .. package.path
local common = require("common")

wrk.method = "POST"
wrk.headers = common.headers
wrk.body = "grant_type=password&username=demo&password=demo-password"
done = common.done
