//! The real local server, started as `make run` starts it (`token-endpoint --store memory
//! --port 0`: the memory store seeded with the demo client and user, on a free port), for tests
//! that talk to it over HTTP. The endpoints' URLs are read from its start-up banner.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to print its banner (it hashes the demo password first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `token-endpoint`; killed when dropped, pass or fail.
pub struct LocalServer {
    child: Child,
    /// `http://127.0.0.1:PORT/o/token/`
    pub token_url: String,
    /// `http://127.0.0.1:PORT/o/revoke_token/`
    pub revocation_url: String,
    /// `http://127.0.0.1:PORT/o/introspect/`
    pub introspection_url: String,
    /// `http://127.0.0.1:PORT/.well-known/oauth-authorization-server`
    pub metadata_url: String,
}

#[derive(Default)]
struct Banner {
    token: Option<String>,
    revocation: Option<String>,
    introspection: Option<String>,
    metadata: Option<String>,
}

impl LocalServer {
    /// Starts the server and waits for its banner. Its later output (log lines) is drained and
    /// dropped, so the server never blocks on, or writes into, a closed pipe.
    pub fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_token-endpoint"))
            .args(["--store", "memory", "--port", "0"])
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting token-endpoint: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("token-endpoint: no stdout"));
        // Build the guard before waiting, so a failure below still kills the child.
        let mut server = LocalServer {
            child,
            token_url: String::new(),
            revocation_url: String::new(),
            introspection_url: String::new(),
            metadata_url: String::new(),
        };

        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut banner = Banner::default();
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = sender.send(Err(
                            "token-endpoint closed its stdout before its banner was complete",
                        ));
                        return;
                    }
                    Ok(_) => {}
                }
                let text = line.trim();
                let url = |prefix: &str| text.strip_prefix(prefix).map(|u| u.trim().to_owned());
                if let Some(u) = url("token endpoint listening on ") {
                    banner.token = Some(u);
                } else if let Some(u) = url("revocation:") {
                    banner.revocation = Some(u);
                } else if let Some(u) = url("introspection:") {
                    banner.introspection = Some(u);
                } else if let Some(u) = url("metadata:") {
                    banner.metadata = Some(u);
                }
                if let Banner {
                    token: Some(token),
                    revocation: Some(revocation),
                    introspection: Some(introspection),
                    metadata: Some(metadata),
                } = &banner
                {
                    let _ = sender.send(Ok([
                        token.clone(),
                        revocation.clone(),
                        introspection.clone(),
                        metadata.clone(),
                    ]));
                    break;
                }
            }
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });

        let [token, revocation, introspection, metadata] = receiver
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|e| panic!("token-endpoint printed no banner in time: {e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        server.token_url = token;
        server.revocation_url = revocation;
        server.introspection_url = introspection;
        server.metadata_url = metadata;
        server
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
