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

#[derive(Debug, thiserror::Error)]
#[error("FUNCTION_KIND must be token or authorizer, not {0:?}")]
pub struct UnknownFunctionKind(String);

impl FunctionKind {
    /// Reads `FUNCTION_KIND`; unset or empty means `token`.
    pub fn from_env() -> Result<Self, UnknownFunctionKind> {
        Self::parse(std::env::var("FUNCTION_KIND").ok().as_deref())
    }

    pub fn parse(value: Option<&str>) -> Result<Self, UnknownFunctionKind> {
        match value.map(str::trim) {
            None | Some("") | Some("token") => Ok(Self::Token),
            Some("authorizer") => Ok(Self::Authorizer),
            Some(other) => Err(UnknownFunctionKind(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_kind_defaults_to_token() {
        assert_eq!(FunctionKind::parse(None).ok(), Some(FunctionKind::Token));
        assert_eq!(
            FunctionKind::parse(Some("")).ok(),
            Some(FunctionKind::Token)
        );
        assert_eq!(
            FunctionKind::parse(Some("authorizer")).ok(),
            Some(FunctionKind::Authorizer)
        );
        assert!(FunctionKind::parse(Some("Authorizer")).is_err());
    }
}
