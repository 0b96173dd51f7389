//! The first five minutes of a new user: start the local server as `make run` does, paste the
//! curl line it prints, then refresh with the documentation's curl sample, verbatim; the same
//! line for the demo JWT client gets a JWT that verifies against the published keys.

use std::process::Command;

use serde_json::Value;
use token_endpoint::startup::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_JWT_CLIENT_ID, DEMO_JWT_CLIENT_SECRET, DEMO_USERNAME,
};

use crate::server::LocalServer;

/// Runs a shell command line as a user would paste it; returns the JSON body of the response.
fn run_curl(command_line: &str) -> Value {
    let output = Command::new("sh")
        .args(["-c", command_line])
        .output()
        .expect("running curl");
    assert!(output.status.success(), "curl failed: {command_line}");
    let text = String::from_utf8_lossy(&output.stdout);
    // `curl -i` prints the status line and headers before the body.
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", &text));
    assert!(head.starts_with("HTTP/1.1 200"), "expected 200:\n{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{head}"
    );
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn printed_curl_line_then_documented_refresh_sample() {
    support::require!(Curl);
    let server = LocalServer::start();
    let (url, curl_line) = (&server.token_url, &server.curl_line);
    let issued = run_curl(curl_line);
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);
    let refresh_token = issued["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{issued}"));

    // The documentation's refresh sample, with its placeholders filled in.
    let documented = "curl -i \\
            -X POST \\
            -H 'Content-Type: application/x-www-form-urlencoded' \\
            -u {CLIENT_ID}:{CLIENT_SECRET} \\
            -d \"grant_type=refresh_token&refresh_token={REFRESH TOKEN}\" \\
            {ENV}/o/token/";
    let refresh = documented
        .replace("{CLIENT_ID}", DEMO_CLIENT_ID)
        .replace("{CLIENT_SECRET}", DEMO_CLIENT_SECRET)
        .replace("{REFRESH TOKEN}", refresh_token)
        .replace("{ENV}/o/token/", url);
    let refreshed = run_curl(&refresh);
    assert_ne!(refreshed["access_token"], issued["access_token"]);
    assert_eq!(refreshed["scope"], issued["scope"]);

    // The demo JWT client, the same way: a JWT that verifies against the keys the metadata
    // names, signed with the key made in memory at start-up.
    let jwt = run_curl(&curl_line.replace(
        &format!("-u {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}"),
        &format!("-u {DEMO_JWT_CLIENT_ID}:{DEMO_JWT_CLIENT_SECRET}"),
    ));
    let metadata: Value = serde_json::from_str(&curl_get(&server.metadata_url))
        .unwrap_or_else(|e| panic!("the metadata is not JSON: {e}"));
    let (Some(issuer), Some(jwks_uri)) =
        (metadata["issuer"].as_str(), metadata["jwks_uri"].as_str())
    else {
        panic!("{metadata}");
    };
    let access = jwt["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{jwt}"));
    let claims = crate::jwt::verify(access, &curl_get(jwks_uri), issuer, false).claims;
    assert_eq!(claims["sub"], DEMO_USERNAME, "{claims}");
    assert_eq!(claims["client_id"], DEMO_JWT_CLIENT_ID, "{claims}");
    assert_eq!(
        jwt["refresh_token"].as_str().map(str::len),
        Some(22 + 1 + 30),
        "{jwt}"
    );
}

/// `curl -s URL`: the body.
fn curl_get(url: &str) -> String {
    let output = Command::new("curl")
        .args(["-s", "--fail", url])
        .output()
        .expect("running curl");
    assert!(output.status.success(), "curl {url} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Secrets hygiene: every log line of a full session at the most verbose level, searched for
/// every secret that crossed the wire.
#[test]
fn no_secret_or_token_reaches_the_logs() {
    support::require!(Curl);
    let server = LocalServer::start_logging("trace");
    let url = server.token_url.clone();
    let curl = |args: &[&str]| -> String {
        let output = Command::new("curl")
            .args(["-s", "-u", "demo-client:demo-secret"])
            .args(args)
            .arg(&url)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let issued: Value = serde_json::from_str(&curl(&[
        "-d",
        "grant_type=password&username=demo&password=demo-password",
    ]))
    .unwrap();
    let first_refresh = issued["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refreshed: Value = serde_json::from_str(&curl(&[
        "-d",
        &format!("grant_type=refresh_token&refresh_token={first_refresh}"),
    ]))
    .unwrap();
    curl(&[
        "-d",
        &format!("grant_type=refresh_token&refresh_token={first_refresh}"),
    ]);
    curl(&[
        "-d",
        "grant_type=password&username=demo&password=wrong-Pa55word",
    ]);
    curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"grant_type": "password", "username": "demo", "password": "demo-password"}"#,
    ]);
    let output = server.stop();

    // Only the log lines: the start-up banner prints the public demo credentials on purpose.
    let logs: String = output
        .lines()
        .filter(|line| line.starts_with('{'))
        .collect::<Vec<_>>()
        .join("\n");
    // One line per request, each naming the endpoint, outcome, latency and DynamoDB tally.
    let request_lines: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request")
        .collect();
    assert_eq!(request_lines.len(), 5, "one line per request:\n{logs}");
    let outcomes: Vec<&str> = request_lines
        .iter()
        .map(|line| line["fields"]["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        outcomes,
        // The repeated refresh is a retry within the window: the same pair again.
        ["issued", "issued", "issued", "invalid_grant", "issued"],
        "{logs}"
    );
    for line in &request_lines {
        let fields = &line["fields"];
        assert_eq!(fields["endpoint"], "token", "{line}");
        assert_eq!(fields["client_id"], "demo-client", "{line}");
        assert!(fields["latency_ms"].is_number(), "{line}");
        assert_eq!(fields["dynamodb_calls"], 0, "the memory store: {line}");
    }
    assert_eq!(request_lines[3]["fields"]["reason"], "invalid_credentials");
    let mut secrets = vec![
        "demo-secret".to_owned(),
        "demo-password".to_owned(),
        "wrong-Pa55word".to_owned(),
        "ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ".to_owned(), // the Basic header's base64
    ];
    for body in [&issued, &refreshed] {
        for field in ["access_token", "refresh_token"] {
            secrets.push(
                body[field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{body}"))
                    .to_owned(),
            );
        }
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }
}
