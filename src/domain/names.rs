//! The client ids, usernames and client names this service accepts. [`ClientId`] and
//! [`Username`] are checked against these rules once, where they enter (a request, the command
//! line, an imported export), and cannot be mixed up after that; values read back from the
//! store were checked when they were written.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use super::token::{RandomnessUnavailable, random_alphanumeric};

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

/// Declares a name newtype: checked by `parse` where it enters, trusted when read back.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks `value` against the rules for this kind of name.
            pub fn parse(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                $check(&value)?;
                Ok(Self(value))
            }

            /// A name read back from the store, which checked it when it was written.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        /// As the plain string, in `oauth-admin`'s JSON output.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

name_type!(
    /// A registered client's id (RFC 6749 §2.2).
    ClientId,
    check_client_id
);

impl ClientId {
    /// A new random id of `length` characters of `[A-Za-z0-9]`, as django-oauth-toolkit
    /// generates them.
    pub fn random(length: usize) -> Result<Self, RandomnessUnavailable> {
        random_alphanumeric(length.clamp(1, MAX_CLIENT_ID_CHARS)).map(Self)
    }
}

name_type!(
    /// A resource owner's username.
    Username,
    check_username
);

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
    fn newtypes_check_where_names_enter() {
        assert_eq!(
            ClientId::parse("app-1").map(|id| id.to_string()),
            Ok("app-1".into())
        );
        assert_eq!(ClientId::parse("a b"), Err(NameError::ClientIdCharacters));
        assert_eq!(Username::parse("Zoë").map(|u| u.len()), Ok(4));
        assert_eq!(
            Username::parse(" alice"),
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
