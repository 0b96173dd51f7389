//! How [`Settings`] are read: from the process environment and the command line, or, for
//! tests, through a lookup function alone.

use std::env::{self, VarError};
use std::ffi::{OsStr, OsString};

use clap::error::{ContextKind, ErrorKind};
use clap::{Arg, Args, Command, CommandFactory, FromArgMatches};

use super::error::ConfigError;
use super::settings::Settings;

impl Settings {
    /// Reads the process environment, with `args` (the local server's command line) over it.
    pub fn from_env_and_args(
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Result<Self, ConfigError> {
        parse_process_env(Self::command(), args.into_iter().map(Into::into).collect())
    }
}

/// Reads one group of [`Settings`] from the process environment.
pub(crate) fn read_env<T: Args + FromArgMatches>() -> Result<T, ConfigError> {
    let command = group_command::<T>();
    let program = OsString::from(command.get_name());
    parse_process_env(command, vec![program])
}

/// Reads one group of [`Settings`] through `lookup` alone.
pub(crate) fn read_lookup<T: Args + FromArgMatches>(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<T, ConfigError> {
    parse_lookup(group_command::<T>(), lookup)
}

fn group_command<T: Args>() -> Command {
    T::augment_args(Command::new(env!("CARGO_PKG_NAME")))
}

/// clap hands a variable that is set but empty to the value parser; here empty means unset,
/// as does a value that is not UTF-8.
fn parse_process_env<T: FromArgMatches>(
    command: Command,
    command_line: Vec<OsString>,
) -> Result<T, ConfigError> {
    let mut command = command.mut_args(|arg| {
        let unset = arg.get_env().is_some_and(|name| match env::var(name) {
            Ok(value) => is_blank(&value),
            Err(VarError::NotUnicode(_)) => true,
            Err(VarError::NotPresent) => false,
        });
        if unset { arg.env(None) } else { arg }
    });
    command
        .try_get_matches_from_mut(&command_line)
        .and_then(|matches| T::from_arg_matches(&matches))
        .map_err(|error| rejected(error, &command, &command_line))
}

/// clap reads the process environment itself, so the variables from `lookup` become flags
/// instead, and clap reads no variable.
fn parse_lookup<T: FromArgMatches>(
    command: Command,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<T, ConfigError> {
    let mut flags = vec![OsString::from(command.get_name())];
    // Names the variable of a rejected flag; built, as naming an argument needs.
    let mut variables = command.clone();
    variables.build();
    let without_variables = command.mut_args(|arg| {
        let value = arg
            .get_env()
            .and_then(OsStr::to_str)
            .and_then(&lookup)
            .filter(|value| !is_blank(value));
        if let (Some(long), Some(value)) = (arg.get_long(), value) {
            flags.push(format!("--{long}={value}").into());
        }
        arg.env(None)
    });
    without_variables
        .try_get_matches_from(&flags)
        .and_then(|matches| T::from_arg_matches(&matches))
        .map_err(|error| rejected(error, &variables, &[]))
}

fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// A value clap rejected, named by its variable in `command` unless it came from
/// `command_line`, what the user typed.
fn rejected(error: clap::Error, command: &Command, command_line: &[OsString]) -> ConfigError {
    let invalid_arg = error.get(ContextKind::InvalidArg).map(ToString::to_string);
    let variable = command
        .get_arguments()
        .find(|arg| Some(arg.to_string()) == invalid_arg)
        .filter(|arg| !on_command_line(arg, command_line))
        .and_then(Arg::get_env)
        .and_then(OsStr::to_str);
    let problem = match error.kind() {
        ErrorKind::ValueValidation => std::error::Error::source(&error).map(ToString::to_string),
        ErrorKind::InvalidValue => error.get(ContextKind::InvalidValue).map(|value| {
            let valid = error.get(ContextKind::ValidValue).map(ToString::to_string);
            format!(
                "{:?} is not one of {}",
                value.to_string(),
                valid.unwrap_or_default()
            )
        }),
        _ => None,
    };
    match (variable, problem) {
        (Some(name), Some(problem)) => ConfigError::Variable {
            name: name.to_owned(),
            problem,
        },
        _ => ConfigError::CommandLine(error),
    }
}

fn on_command_line(arg: &Arg, command_line: &[OsString]) -> bool {
    let Some(long) = arg.get_long() else {
        return false;
    };
    let flag = format!("--{long}");
    command_line
        .iter()
        .filter_map(|word| word.to_str())
        .any(|word| word == flag || word.starts_with(&format!("{flag}=")))
}
