//! The real local server, started as `make run` starts it (`token-endpoint --store memory
//! --port 0`: the memory store seeded with the demo client and user, on a free port), for tests
//! that talk to it over HTTP, or on the DynamoDB store in moto. The endpoints' URLs and the curl
//! line to try are read from its start-up banner; everything it prints is kept, for the tests
//! that read its logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use support::process::{clean_command, dynamodb_env};
use token_endpoint::store::dynamodb::TableNames;

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
    /// The `curl …` line the banner suggests, as printed (none on the DynamoDB store: empty).
    pub curl_line: String,
    /// Everything the server printed, stdout then stderr line by line as they came.
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Banner {
    token: Option<String>,
    revocation: Option<String>,
    introspection: Option<String>,
    metadata: Option<String>,
    curl: Option<String>,
    /// The DynamoDB store has no demo data, and no curl line to try it with.
    no_curl_line: bool,
}

impl Banner {
    /// Notes what `line` says; the whole banner once it is complete.
    fn read(&mut self, line: &str) -> Option<[String; 5]> {
        let text = line.trim();
        let url = |prefix: &str| text.strip_prefix(prefix).map(|u| u.trim().to_owned());
        if let Some(u) = url("token endpoint listening on ") {
            self.token = Some(u);
        } else if let Some(u) = url("revocation:") {
            self.revocation = Some(u);
        } else if let Some(u) = url("introspection:") {
            self.introspection = Some(u);
        } else if let Some(u) = url("metadata:") {
            self.metadata = Some(u);
        } else if text.starts_with("curl ") {
            self.curl = Some(text.to_owned());
        }
        if self.no_curl_line {
            self.curl.get_or_insert_with(String::new);
        }
        Some([
            self.token.clone()?,
            self.revocation.clone()?,
            self.introspection.clone()?,
            self.metadata.clone()?,
            self.curl.clone()?,
        ])
    }
}

impl LocalServer {
    /// Starts the server at `RUST_LOG=warn` and waits for its banner.
    pub fn start() -> Self {
        Self::start_logging("warn")
    }

    /// Starts the server logging at `level` and waits for its banner. Its output is read to the
    /// end and kept, so the server never blocks on, or writes into, a closed pipe.
    pub fn start_logging(level: &str) -> Self {
        Self::start_with("memory", &[("RUST_LOG", level.to_owned())])
    }

    /// Starts the server on the DynamoDB store (and the KMS) in moto, on `tables`, with `env`
    /// besides, and waits for its banner (which has no curl line: there is no demo data).
    pub fn start_on_dynamodb(tables: &TableNames, env: &[(&str, String)]) -> Self {
        let mut all: Vec<(&str, String)> = dynamodb_env(support::moto_endpoint(), tables).into();
        all.push(("RUST_LOG", "warn".to_owned()));
        all.extend(env.iter().cloned());
        Self::start_with("dynamodb", &all)
    }

    /// Starts `token-endpoint --store <store> --port 0` with `env` on a clean environment.
    fn start_with(store: &str, env: &[(&str, String)]) -> Self {
        // Only the memory store is seeded with the demo data the curl line uses.
        let no_curl_line = store != "memory";
        let mut child = clean_command(env!("CARGO_BIN_EXE_token-endpoint"))
            .args(["--store", store, "--port", "0"])
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting token-endpoint");
        let stdout = child.stdout.take().expect("token-endpoint: no stdout");
        let stderr = child.stderr.take().expect("token-endpoint: no stderr");
        // Build the guard before waiting, so a failure below still kills the child.
        let mut server = LocalServer {
            child,
            token_url: String::new(),
            revocation_url: String::new(),
            introspection_url: String::new(),
            metadata_url: String::new(),
            curl_line: String::new(),
            output: Arc::default(),
            readers: Vec::new(),
        };

        let (sender, receiver) = mpsc::channel();
        let output = Arc::clone(&server.output);
        server.readers.push(std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut banner = Banner {
                no_curl_line,
                ..Banner::default()
            };
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
                if let Ok(mut output) = output.lock() {
                    output.push_str(&line);
                }
                if let Some(complete) = banner.read(&line) {
                    let _ = sender.send(Ok(complete));
                    break;
                }
            }
            keep(reader, &output);
        }));
        let output = Arc::clone(&server.output);
        server
            .readers
            .push(std::thread::spawn(move || keep(stderr, &output)));

        let [token, revocation, introspection, metadata, curl] = receiver
            .recv_timeout(START_TIMEOUT)
            .expect("token-endpoint printed no banner in time")
            .unwrap();
        server.token_url = token;
        server.revocation_url = revocation;
        server.introspection_url = introspection;
        server.metadata_url = metadata;
        server.curl_line = curl;
        server
    }

    /// Stops the server and returns everything it printed.
    pub fn stop(mut self) -> String {
        self.kill();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.output
            .lock()
            .map(|output| output.clone())
            .unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Appends what `pipe` gives, line by line, to `output` until it closes.
fn keep(pipe: impl Read, output: &Mutex<String>) {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { return };
        if let Ok(mut output) = output.lock() {
            output.push_str(&line);
            output.push('\n');
        }
    }
}
