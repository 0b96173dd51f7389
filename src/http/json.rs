//! JSON as the documented endpoint writes it, and the headers every JSON answer carries.
//!
//! django-oauth-toolkit answers with Python's `json.dumps`, which separates with `", "` and
//! `": "`. Writing the same bytes costs nothing and spares clients that compare bodies (or
//! parse them with hand-rolled code) a surprise.

use std::io;

use axum::http::{HeaderValue, header};
use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

struct PythonStyle;

impl Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Serialises `value` with Python's separators. Serialising the plain structs of this crate
/// into memory cannot fail; if it ever did, the result is an empty object rather than a panic.
pub fn python_style_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut output = Vec::with_capacity(256);
    let mut serializer = Serializer::with_formatter(&mut output, PythonStyle);
    if value.serialize(&mut serializer).is_err() {
        return b"{}".to_vec();
    }
    output
}

/// Token responses must not be cached (RFC 6749 §5.1); errors get the same headers.
pub(super) fn no_store_json_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_match_python() {
        #[derive(Serialize)]
        struct Sample<'a> {
            a: &'a str,
            b: u64,
            c: [u8; 2],
        }
        let json = python_style_json(&Sample {
            a: "x",
            b: 1,
            c: [1, 2],
        });
        assert_eq!(
            String::from_utf8_lossy(&json),
            r#"{"a": "x", "b": 1, "c": [1, 2]}"#
        );
    }
}
