//! Why the settings could not be read.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}: {problem}")]
    Variable { name: String, problem: String },
    /// A wrong command line, or `--help` or `--version`: [`clap::Error::exit`] prints it.
    #[error(transparent)]
    CommandLine(clap::Error),
}
