//! The Lambda entry points. One binary serves two functions, chosen by `FUNCTION_KIND`:
//! - `token` (the default): the HTTP router behind API Gateway, in [`http`];
//! - `authorizer`: an API Gateway Lambda authorizer that checks bearer tokens, in
//!   [`authorizer`].

pub mod authorizer;
pub mod http;

/// Which function this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Token,
    Authorizer,
}

impl FunctionKind {
    /// The value of `FUNCTION_KIND` (unset or empty means `token`, see
    /// [`LambdaSettings`](crate::config::LambdaSettings)).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "token" => Ok(Self::Token),
            "authorizer" => Ok(Self::Authorizer),
            other => Err(format!("must be token or authorizer, not {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, LambdaSettings, read_lookup};

    fn function_kind(value: Option<&str>) -> Result<FunctionKind, ConfigError> {
        read_lookup::<LambdaSettings>(|name| {
            value.filter(|_| name == "FUNCTION_KIND").map(str::to_owned)
        })
        .map(|settings| settings.function_kind)
    }

    #[test]
    fn function_kind_defaults_to_token() {
        assert_eq!(function_kind(None).ok(), Some(FunctionKind::Token));
        assert_eq!(function_kind(Some("")).ok(), Some(FunctionKind::Token));
        assert_eq!(
            function_kind(Some("authorizer")).ok(),
            Some(FunctionKind::Authorizer)
        );
        assert!(function_kind(Some("Authorizer")).is_err());
    }
}
