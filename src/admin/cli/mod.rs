//! `oauth-admin`'s command line: its commands and flags (clap, `commands.rs`), and
//! [`CommandFailure`], the error a command ends with and the exit status that goes with it
//! (`failure.rs`). `input.rs` turns flags and
//! standard input into the typed requests of [`super::Admin`], checked before anything reaches
//! the store; `output.rs` renders results as the one JSON line a command prints; `run.rs` runs
//! a command, one function each, on the deployment `startup::Deployment` connects to.

mod commands;
mod failure;
mod input;
pub mod output;
mod run;

pub use commands::{
    Cli, ClientChangeArgs, Command, CreateClientArgs, ImportArgs, OwnerArgs, UpdateClientArgs,
};
pub use failure::{CommandFailure, failed_records};
pub use input::{secret_from_stdin, valid_client_id, valid_family_id, valid_username};
pub use run::run;
