//! The one decision to run or skip a test that needs a tool beyond Rust.
//!
//! On a machine with only Rust, `cargo test` runs everything it can, and a test that needs
//! moto, the Lambda Runtime Interface Emulator, a sam-built bootstrap or curl returns at once
//! (it passes). Each test binary says so once on stderr, naming what is missing and `make test`,
//! which provides it; each skipped test names itself in its captured output (`--nocapture`).
//! `make test`, what CI runs, sets `REQUIRE_TEST_SERVICES=1`: there a missing tool fails the
//! test instead, so nothing is skipped silently.
//!
//! A test states its needs first thing: `support::require!(Moto);`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::{repo_root, test_python};

/// Set (to anything but `0`) by `make test`: a missing tool fails the test instead of
/// skipping it.
pub const REQUIRE_VAR: &str = "REQUIRE_TEST_SERVICES";

/// What a test may need beyond Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// moto's DynamoDB-compatible server, and Django for the migration tests, in the test
    /// Python ([`test_python`]).
    Moto,
    /// The AWS Lambda Runtime Interface Emulator ([`lambda_rie`]).
    Emulator,
    /// The Lambda artifact `sam build` makes ([`lambda_bootstrap`]).
    Bootstrap,
    /// curl, which the local-server tests run as a user would.
    Curl,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Moto => "moto",
            Tool::Emulator => "the Lambda Runtime Interface Emulator",
            Tool::Bootstrap => "a sam-built Lambda bootstrap",
            Tool::Curl => "curl",
        }
    }

    /// Why the tool cannot be used, or `None` if it is there.
    fn missing(self) -> Option<String> {
        match self {
            Tool::Moto => {
                let python = test_python();
                (!python.is_file())
                    .then(|| format!("no {}; MOTO_PYTHON names another", python.display()))
            }
            Tool::Emulator => locate_rie().err(),
            Tool::Bootstrap => {
                let path = lambda_bootstrap();
                (!path.is_file())
                    .then(|| format!("no {}; LAMBDA_BOOTSTRAP names another", path.display()))
            }
            Tool::Curl => {
                let runs = Command::new("curl")
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success());
                (!runs).then(|| "not on PATH".to_owned())
            }
        }
    }
}

/// Whether every tool in `tools` is there. If one is not, the test should return at once:
/// this has said so on stderr, or, under `REQUIRE_TEST_SERVICES`, failed the test.
#[track_caller]
pub fn available(tools: &[Tool]) -> bool {
    let missing: Vec<String> = tools
        .iter()
        .filter_map(|tool| Some(format!("{} ({})", tool.name(), tool.missing()?)))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let needs = missing.join(", ");
    let required = std::env::var(REQUIRE_VAR).is_ok_and(|value| !value.is_empty() && value != "0");
    assert!(
        !required,
        "needs {needs}; {REQUIRE_VAR} is set (by `make test`), so a missing tool fails the test"
    );
    announce(&needs);
    // Captured by the test harness: shown with `--nocapture`.
    eprintln!("skipped {}: needs {needs}", test_name());
    false
}

/// Says once per test binary and set of missing tools, on a line of its own, that the tests
/// needing them pass without running. Written to the process's stderr, past the harness's
/// capture, so that it shows among the test results.
fn announce(needs: &str) {
    static ANNOUNCED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut announced = ANNOUNCED.lock().unwrap_or_else(PoisonError::into_inner);
    if announced.iter().any(|done| done == needs) {
        return;
    }
    announced.push(needs.to_owned());
    let _ = writeln!(
        std::io::stderr(),
        "\nskipped: the tests of this binary that need {needs}; `make test` installs and builds \
         what the tests need, and runs them"
    );
}

/// Returns from the calling test (which then passes) unless every named [`Tool`] is there;
/// see [`available`].
#[macro_export]
macro_rules! require {
    ($($tool:ident),+ $(,)?) => {
        if !$crate::skip::available(&[$($crate::skip::Tool::$tool),+]) {
            return;
        }
    };
}

/// The test harness names each test's thread after the test; a bench runs on `main`.
fn test_name() -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => std::env::args().next().unwrap_or_default(),
    }
}

/// The Runtime Interface Emulator: `AWS_LAMBDA_RIE`, or the one aws-sam-cli ships in
/// `.venv-sam`, where `make test` installs it. Fails the test if there is none.
pub fn lambda_rie() -> PathBuf {
    locate_rie().expect("no Lambda Runtime Interface Emulator")
}

fn locate_rie() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("AWS_LAMBDA_RIE").filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("AWS_LAMBDA_RIE names {}, no file", path.display()))
        };
    }
    std::fs::read_dir(repo_root().join(".venv-sam/lib"))
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("python3"))
                .map(|entry| {
                    entry
                        .path()
                        .join("site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
                })
                .find(|path| path.is_file())
        })
        .ok_or_else(|| "AWS_LAMBDA_RIE is unset and .venv-sam has none".to_owned())
}

/// The Lambda artifact: `LAMBDA_BOOTSTRAP` (`make test` points it at `sam build`'s), or what
/// `cargo lambda build --release` writes. It may not exist; see [`Tool::Bootstrap`].
pub fn lambda_bootstrap() -> PathBuf {
    std::env::var_os("LAMBDA_BOOTSTRAP")
        .filter(|path| !path.is_empty())
        .map_or_else(
            || repo_root().join("target/lambda/token-endpoint/bootstrap"),
            PathBuf::from,
        )
}
