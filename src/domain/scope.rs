//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive scope tokens.

use std::fmt;

/// An ordered list of distinct scope tokens.
///
/// Order is kept because clients of the documented endpoint see their requested scope echoed
/// back as they wrote it (`scope=write read` answers `"scope": "write read"`). Repeated tokens
/// are dropped: they carry no meaning and would only be stored twice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(Vec<String>);

/// The scope string is not a list of RFC 6749 scope tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed scope")]
pub struct MalformedScope;

impl Scope {
    /// Parses a space-delimited scope string. Runs of spaces and leading or trailing spaces are
    /// tolerated; a token with a character outside RFC 6749's `NQCHAR` set is not.
    pub fn parse(text: &str) -> Result<Self, MalformedScope> {
        let mut tokens: Vec<String> = Vec::new();
        for token in text.split(' ').filter(|token| !token.is_empty()) {
            if !token.bytes().all(is_scope_char) {
                return Err(MalformedScope);
            }
            if !tokens.iter().any(|known| known == token) {
                tokens.push(token.to_owned());
            }
        }
        Ok(Self(tokens))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when every token of `self` is also in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.tokens().all(|token| other.contains(token))
    }

    /// The tokens of `self` that are also in `other`, in `self`'s order.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Self(
            self.tokens()
                .filter(|token| other.contains(token))
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|known| known == token)
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_char(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap_or_else(|_| panic!("{text:?} should parse"))
    }

    #[test]
    fn keeps_the_requested_order() {
        assert_eq!(scope("write read").to_string(), "write read");
    }

    #[test]
    fn tolerates_extra_spaces_and_drops_repeated_tokens() {
        assert_eq!(scope("  read   write read ").to_string(), "read write");
    }

    #[test]
    fn an_all_space_string_is_empty() {
        assert!(scope("   ").is_empty());
    }

    #[test]
    fn rejects_characters_outside_the_rfc_alphabet() {
        for bad in ["read\"", "re\\ad", "read\twrite", "é", "a\u{0}"] {
            assert_eq!(Scope::parse(bad), Err(MalformedScope), "{bad:?}");
        }
    }

    #[test]
    fn subset_is_case_sensitive_and_order_free() {
        let granted = scope("read write payouts");
        assert!(scope("payouts read").is_subset_of(&granted));
        assert!(!scope("READ").is_subset_of(&granted));
        assert!(!scope("read admin").is_subset_of(&granted));
        assert!(Scope::default().is_subset_of(&granted));
    }
}
