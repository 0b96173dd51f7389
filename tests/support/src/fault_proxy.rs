//! A fault-injecting HTTP/1.1 proxy between the DynamoDB SDK and moto.
//!
//! The SDK talks to the proxy as if it were DynamoDB; the proxy forwards each request to moto
//! unless its fault plan says otherwise. Rules target one operation by its `X-Amz-Target`
//! header and can answer an injected 500 or throttling error, hold the request past the SDK's
//! attempt timeout, close the connection before forwarding the request or after forwarding
//! it (the write happened, the client never hears of it), or answer 200 with a body that fails
//! to parse and holds secrets, as a cut-off `BatchGetItem` answer would. Every request is counted per
//! operation, so tests can assert that the SDK retried. [`FaultProxy::refuse_like_mrsc`] makes
//! it refuse what a multi-Region strongly consistent global table refuses (transactions, TTL),
//! so that suites run as they would on one.
//!
//! Hand-rolled over `TcpStream`: the SDK sends `Content-Length` bodies on keep-alive
//! connections; upstream, each request gets its own connection with `Connection: close`, so the
//! proxy reads moto's answer to the end and re-frames it with a `Content-Length`.
//!
//! Moto ignores `ClientRequestToken`; DynamoDB does not (a repeated `TransactWriteItems` with
//! the same token within ten minutes succeeds without writing again). With
//! [`FaultProxy::emulate_idempotency_tokens`] the proxy answers such a repeat itself, as
//! DynamoDB would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const BATCH_GET_ITEM: &str = "DynamoDB_20120810.BatchGetItem";
pub const TRANSACT_WRITE_ITEMS: &str = "DynamoDB_20120810.TransactWriteItems";
pub const UPDATE_ITEM: &str = "DynamoDB_20120810.UpdateItem";
pub const PUT_ITEM: &str = "DynamoDB_20120810.PutItem";
pub const DELETE_ITEM: &str = "DynamoDB_20120810.DeleteItem";
pub const TRANSACT_GET_ITEMS: &str = "DynamoDB_20120810.TransactGetItems";
pub const UPDATE_TIME_TO_LIVE: &str = "DynamoDB_20120810.UpdateTimeToLive";
/// Not an operation: any single-item write (`PutItem`, `UpdateItem`, `DeleteItem`) of a token
/// family's item, the one write of every grant. Rules and counters take it as a target, beside
/// the operation's own.
pub const FAMILY_WRITE: &str = "family write";
/// What a multi-Region strongly consistent (MRSC) global table refuses: transactions and TTL.
pub const REFUSED_BY_MRSC: [&str; 3] = [
    TRANSACT_WRITE_ITEMS,
    TRANSACT_GET_ITEMS,
    UPDATE_TIME_TO_LIVE,
];

/// Any request whose answer takes longer than this upstream is answered by closing the
/// connection; moto answers in milliseconds.
const UPSTREAM_LIMIT: Duration = Duration::from_secs(10);
/// Requests to DynamoDB are a few kilobytes; anything far bigger is a framing bug here.
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// What the proxy does with a request a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers HTTP 500 `InternalServerError` without forwarding.
    InternalServerError,
    /// Answers HTTP 400 `ValidationException` without forwarding, as DynamoDB answers an
    /// operation a multi-Region strongly consistent table does not support.
    Unsupported,
    /// Answers HTTP 400 with this DynamoDB error type (`ThrottlingException`,
    /// `ProvisionedThroughputExceededException`) without forwarding.
    Throttle(&'static str),
    /// Holds the request this long, then closes the connection without forwarding it.
    Stall(Duration),
    /// Holds the request this long, then forwards it (it lands after the client gave up on
    /// it) and closes the connection without answering.
    LateDelivery(Duration),
    /// Closes the connection without forwarding or answering.
    DropRequest,
    /// Forwards the request, then closes the connection without answering: the write
    /// happened and the client does not know.
    DropResponse,
    /// Answers 200 with a `BatchGetItem` answer cut off mid-item, without forwarding: it
    /// fails to parse, and holds [`GARBLED_SECRETS`] as a real one holds hashes and secrets.
    GarbledAnswer,
}

/// What a [`Fault::GarbledAnswer`] body holds that no log or error may repeat: an Argon2id
/// PHC string and a family secret.
pub const GARBLED_SECRETS: [&str; 2] = [
    "$argon2id$v=19$m=19456,t=2,p=1$Z2FyYmxlZC1zYWx0$bm90LWEtcmVhbC1oYXNoLWJ1dC1uZXZlci1sb2c",
    "fam1ly-s3cret-never-in-a-log",
];

struct Rule {
    target: &'static str,
    /// Only requests whose body contains this (a table's name, say); `None`: any.
    body_contains: Option<String>,
    fault: Fault,
    /// `None`: every matching request.
    remaining: Option<u32>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Requests received, per `X-Amz-Target`.
    seen: HashMap<String, u32>,
    /// Requests moto answered, per `X-Amz-Target`.
    forwarded: HashMap<String, u32>,
    emulate_idempotency_tokens: bool,
    /// `ClientRequestToken` → (request body, moto's answer) of committed transactions.
    committed_transactions: HashMap<String, (Vec<u8>, Vec<u8>)>,
    /// Repeated transactions answered from `committed_transactions`.
    idempotent_replays: u32,
}

/// A running proxy; clones share the plan and the counters.
#[derive(Clone)]
pub struct FaultProxy {
    endpoint: String,
    upstream: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 forwarding to `upstream` (`http://host:port`). It serves
    /// until the test's runtime shuts down.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fault proxy");
        let address = listener.local_addr().expect("the fault proxy's address");
        let proxy = Self {
            endpoint: format!("http://{address}"),
            upstream: upstream
                .strip_prefix("http://")
                .unwrap_or_else(|| panic!("upstream {upstream:?} is not http://host:port"))
                .trim_end_matches('/')
                .to_owned(),
            state: Arc::default(),
        };
        let server = proxy.clone();
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(server.clone().serve(connection));
            }
        });
        proxy
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// From now on every `target` request meets `fault`.
    pub fn fail_always(&self, target: &'static str, fault: Fault) {
        self.state().rules.push(Rule {
            target,
            body_contains: None,
            fault,
            remaining: None,
        });
    }

    /// From now on every `target` request whose body contains `text` (a table's name, to tell
    /// one table's writes from another's) meets `fault`.
    pub fn fail_always_containing(&self, target: &'static str, text: &str, fault: Fault) {
        self.state().rules.push(Rule {
            target,
            body_contains: Some(text.to_owned()),
            fault,
            remaining: None,
        });
    }

    /// The next `times` `target` requests meet `fault`; later ones pass.
    pub fn fail_times(&self, target: &'static str, fault: Fault, times: u32) {
        self.state().rules.push(Rule {
            target,
            body_contains: None,
            fault,
            remaining: Some(times),
        });
    }

    /// Removes every rule: all requests pass.
    pub fn pass(&self) {
        self.state().rules.clear();
    }

    /// Answers a repeated `TransactWriteItems` (same `ClientRequestToken` and body as one that
    /// committed) with the first answer, without forwarding it, as DynamoDB does.
    pub fn emulate_idempotency_tokens(&self) {
        self.state().emulate_idempotency_tokens = true;
    }

    /// `target` requests received so far.
    pub fn seen(&self, target: &str) -> u32 {
        self.state().seen.get(target).copied().unwrap_or(0)
    }

    /// `target` requests moto has answered so far.
    pub fn forwarded(&self, target: &str) -> u32 {
        self.state().forwarded.get(target).copied().unwrap_or(0)
    }

    /// Repeated transactions the proxy answered itself.
    pub fn idempotent_replays(&self) -> u32 {
        self.state().idempotent_replays
    }

    /// Zeroes the counters.
    pub fn reset_counts(&self) {
        let mut state = self.state();
        state.seen.clear();
        state.forwarded.clear();
        state.idempotent_replays = 0;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the plan from the others.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers what a multi-Region strongly consistent table refuses (transactions, TTL) as
    /// DynamoDB does there, from now on.
    pub fn refuse_like_mrsc(&self) {
        for target in REFUSED_BY_MRSC {
            self.fail_always(target, Fault::Unsupported);
        }
    }

    /// Counts the request and picks the fault of the first rule that still applies.
    fn plan(&self, target: &str, body: &[u8]) -> Option<Fault> {
        let mut state = self.state();
        *state.seen.entry(target.to_owned()).or_default() += 1;
        let family_write = is_family_write(target, body);
        if family_write {
            *state.seen.entry(FAMILY_WRITE.to_owned()).or_default() += 1;
        }
        let body = String::from_utf8_lossy(body);
        let rule = state.rules.iter_mut().find(|rule| {
            (rule.target == target || (family_write && rule.target == FAMILY_WRITE))
                && rule.remaining != Some(0)
                && rule
                    .body_contains
                    .as_deref()
                    .is_none_or(|text| body.contains(text))
        })?;
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
        }
        Some(rule.fault)
    }

    /// Serves one downstream (SDK) connection, request after request.
    async fn serve(self, mut downstream: TcpStream) {
        let mut buffer = Vec::new();
        while let Some(request) = read_request(&mut downstream, &mut buffer).await {
            let target = request
                .header("x-amz-target")
                .unwrap_or_default()
                .to_owned();
            let answer = match self.plan(&target, &request.body) {
                None => match self.forward(&request, &target).await {
                    Some(answer) => answer,
                    None => return,
                },
                Some(Fault::InternalServerError) => {
                    dynamodb_error(500, "Internal Server Error", "InternalServerError")
                }
                Some(Fault::Unsupported) => {
                    dynamodb_error(400, "Bad Request", "ValidationException")
                }
                Some(Fault::Throttle(error_type)) => dynamodb_error(400, "Bad Request", error_type),
                Some(Fault::Stall(hold)) => {
                    tokio::time::sleep(hold).await;
                    return;
                }
                Some(Fault::LateDelivery(hold)) => {
                    tokio::time::sleep(hold).await;
                    self.forward(&request, &target).await;
                    return;
                }
                Some(Fault::DropRequest) => return,
                Some(Fault::DropResponse) => {
                    self.forward(&request, &target).await;
                    return;
                }
                Some(Fault::GarbledAnswer) => garbled_answer(),
            };
            if downstream.write_all(&answer).await.is_err() {
                return;
            }
        }
    }

    /// Sends `request` to moto on a fresh connection and returns its answer, re-framed for the
    /// keep-alive downstream connection; `None` if moto could not be reached.
    async fn forward(&self, request: &Request, target: &str) -> Option<Vec<u8>> {
        let token = (target == TRANSACT_WRITE_ITEMS)
            .then(|| client_request_token(&request.body))
            .flatten();
        if let Some(token) = &token {
            let state = self.state();
            if state.emulate_idempotency_tokens
                && let Some((body, answer)) = state.committed_transactions.get(token)
            {
                let answer = (*body == request.body).then(|| answer.clone());
                drop(state);
                let answer = answer.unwrap_or_else(|| {
                    dynamodb_error(400, "Bad Request", "IdempotentParameterMismatchException")
                });
                self.state().idempotent_replays += 1;
                return Some(answer);
            }
        }
        let answer = tokio::time::timeout(UPSTREAM_LIMIT, self.exchange(request))
            .await
            .ok()
            .flatten()?;
        let mut state = self.state();
        *state.forwarded.entry(target.to_owned()).or_default() += 1;
        if is_family_write(target, &request.body) {
            *state.forwarded.entry(FAMILY_WRITE.to_owned()).or_default() += 1;
        }
        if let Some(token) = token
            && answer.starts_with(b"HTTP/1.1 200")
        {
            state
                .committed_transactions
                .insert(token, (request.body.clone(), answer.clone()));
        }
        Some(answer)
    }

    async fn exchange(&self, request: &Request) -> Option<Vec<u8>> {
        let mut upstream = TcpStream::connect(&self.upstream).await.ok()?;
        let mut message = format!("{}\r\n", request.start_line);
        for (name, value) in &request.headers {
            if !is_hop_by_hop(name) {
                message.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        message.push_str("Connection: close\r\n\r\n");
        let mut message = message.into_bytes();
        message.extend_from_slice(&request.body);
        upstream.write_all(&message).await.ok()?;
        let mut raw = Vec::new();
        upstream.read_to_end(&mut raw).await.ok()?;
        reframe(&raw)
    }
}

struct Request {
    start_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Headers about one connection, not the message; the proxy sets its own.
fn is_hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection"]
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop))
}

/// Reads one request from a keep-alive connection; `None` at end of stream or on anything
/// this proxy does not speak (chunked request bodies).
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_MESSAGE_BYTES || !read_more(stream, buffer).await {
            return None;
        }
    };
    let (start_line, headers) = parse_head(&buffer[..head_end])?;
    if header(&headers, "transfer-encoding").is_some() {
        return None;
    }
    let length: usize = header(&headers, "content-length")
        .map(|value| value.trim().parse().ok())
        .unwrap_or(Some(0))?;
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if buffer.len() > MAX_MESSAGE_BYTES || !read_more(stream, buffer).await {
            return None;
        }
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(Request {
        start_line,
        headers,
        body,
    })
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(read) => {
            buffer.extend_from_slice(&chunk[..read]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn parse_head(head: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let start_line = lines.next()?.to_owned();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((start_line, headers))
}

/// Turns a complete upstream answer (read to end of stream) into one with a
/// `Content-Length`, fit for a keep-alive connection.
fn reframe(raw: &[u8]) -> Option<Vec<u8>> {
    let head_end = find(raw, b"\r\n\r\n")?;
    let (status_line, headers) = parse_head(&raw[..head_end])?;
    let rest = &raw[head_end + 4..];
    let body = if header(&headers, "transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else {
        match header(&headers, "content-length") {
            Some(length) => rest.get(..length.trim().parse().ok()?)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    let status_line = match status_line.split_once(' ') {
        Some((_, status)) => format!("HTTP/1.1 {status}"),
        None => return None,
    };
    let mut answer = format!("{status_line}\r\n");
    for (name, value) in &headers {
        if !is_hop_by_hop(name)
            && !name.eq_ignore_ascii_case("content-length")
            && !name.eq_ignore_ascii_case("transfer-encoding")
        {
            answer.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    answer.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A DynamoDB error answer, as the service sends it (awsJson1_0).
fn dynamodb_error(status: u16, reason: &str, error_type: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
        "message": "injected by the fault proxy",
    })
    .to_string();
    dynamodb_answer(&format!("{status} {reason}"), &body)
}

/// A 200 `BatchGetItem` answer that ends in the middle of an item, after the secrets.
fn garbled_answer() -> Vec<u8> {
    let [hash, family_secret] = GARBLED_SECRETS;
    let whole = serde_json::json!({"Responses": {
        "credentials": [{"pk": {"S": "USER#alice"}, "password_hash": {"S": hash}}],
        "tokens": [{
            "pk": {"S": "FAMILY#1"},
            "family_secret": {"S": family_secret},
            "expires_at": {"N": "1700000000"},
        }],
    }})
    .to_string();
    // Without its closing brackets: every secret is in, and the JSON never ends.
    let cut = whole.len() - "]}}".len();
    dynamodb_answer("200 OK", &whole[..cut])
}

/// An answer with `body`, framed for a keep-alive connection.
fn dynamodb_answer(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         x-amzn-RequestId: fault-proxy\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether a request is a single-item write of a token family's item.
fn is_family_write(target: &str, body: &[u8]) -> bool {
    [PUT_ITEM, UPDATE_ITEM, DELETE_ITEM].contains(&target) && find(body, b"\"FAMILY#").is_some()
}

fn client_request_token(body: &[u8]) -> Option<String> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    request["ClientRequestToken"].as_str().map(str::to_owned)
}
