//! The client ids, usernames and client names this service accepts. `oauth-admin` checks every
//! name it is given, on the command line or in an imported export, against these rules.

/// Client ids are sent in Basic headers and forms; these are RFC 3986's unreserved characters,
/// which need no encoding there.
pub const MAX_CLIENT_ID_CHARS: usize = 100;
/// Django's own limit, so every Django username fits.
pub const MAX_USERNAME_CHARS: usize = 150;
pub const MAX_CLIENT_NAME_CHARS: usize = 255;

/// Why a name is refused. Reads after the name: "client_id may contain only …".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must be 1 to {max} characters long (got {got})")]
    Length { max: usize, got: usize },
    #[error("may contain only letters A-Z a-z, digits and . _ ~ -")]
    ClientIdCharacters,
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must not start or end with whitespace")]
    SurroundingWhitespace,
    #[error("must be 1 to {max} characters long and not blank")]
    BlankOrTooLong { max: usize },
}

impl NameError {
    /// Whether the message is about the name's length, where quoting the name helps nobody.
    pub fn is_about_length(&self) -> bool {
        matches!(
            self,
            NameError::Length { .. } | NameError::BlankOrTooLong { .. }
        )
    }
}

pub fn check_client_id(client_id: &str) -> Result<(), NameError> {
    let length = client_id.chars().count();
    if !(1..=MAX_CLIENT_ID_CHARS).contains(&length) {
        return Err(NameError::Length {
            max: MAX_CLIENT_ID_CHARS,
            got: length,
        });
    }
    if !client_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
    {
        return Err(NameError::ClientIdCharacters);
    }
    Ok(())
}

pub fn check_username(username: &str) -> Result<(), NameError> {
    let length = username.chars().count();
    if !(1..=MAX_USERNAME_CHARS).contains(&length) {
        return Err(NameError::Length {
            max: MAX_USERNAME_CHARS,
            got: length,
        });
    }
    if username.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    if username.trim() != username {
        return Err(NameError::SurroundingWhitespace);
    }
    Ok(())
}

pub fn check_client_name(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() || name.chars().count() > MAX_CLIENT_NAME_CHARS {
        return Err(NameError::BlankOrTooLong {
            max: MAX_CLIENT_NAME_CHARS,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        assert_eq!(check_client_id("Ab0._~-"), Ok(()));
        assert_eq!(check_client_id(&"a".repeat(100)), Ok(()));
        assert_eq!(
            check_client_id(&"a".repeat(101)),
            Err(NameError::Length { max: 100, got: 101 })
        );
        assert_eq!(
            check_client_id(""),
            Err(NameError::Length { max: 100, got: 0 })
        );
        for bad in ["a b", "a/b", "a:b", "ünicode", "https://app.example/cimd"] {
            assert_eq!(
                check_client_id(bad),
                Err(NameError::ClientIdCharacters),
                "{bad}"
            );
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(check_username("alice@example.com"), Ok(()));
        assert_eq!(check_username("Zoë van der Berg"), Ok(()));
        assert_eq!(check_username(&"u".repeat(150)), Ok(()));
        assert!(check_username(&"u".repeat(151)).is_err_and(|e| e.is_about_length()));
        assert_eq!(check_username("a\u{7}b"), Err(NameError::ControlCharacters));
        assert_eq!(
            check_username(" alice"),
            Err(NameError::SurroundingWhitespace)
        );
    }

    #[test]
    fn client_names() {
        assert_eq!(check_client_name("Mobile app"), Ok(()));
        assert!(check_client_name("  ").is_err_and(|e| e.is_about_length()));
        assert_eq!(check_client_name("a\nb"), Err(NameError::ControlCharacters));
    }
}
