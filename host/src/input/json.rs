//! Checking that bytes are one JSON value, quickly for the commonest case:
//! inputs and results of tiny tasks are mostly integers, which need no
//! parser. Everything else goes through serde_json.

/// Checks that `bytes` is exactly one JSON value (white space around it
/// allowed); the error is serde_json's, with its position.
pub(crate) fn check(bytes: &[u8]) -> Result<(), serde_json::Error> {
    if is_integer(bytes) {
        return Ok(());
    }
    serde_json::from_slice::<&serde_json::value::RawValue>(bytes).map(|_| ())
}

/// Whether `bytes` is a JSON integer: `-?(0|[1-9][0-9]*)`.
fn is_integer(bytes: &[u8]) -> bool {
    match bytes.strip_prefix(b"-").unwrap_or(bytes) {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_everything_else_as_serde_json_says() {
        for good in
            ["0", "-0", "7", "-12", "123456789012345678901234567890", " 5 ", "1.5e3", "\"x\"", "[1, {}]", "null"]
        {
            assert!(check(good.as_bytes()).is_ok(), "{good:?}");
        }
        for bad in ["", "-", "01", "-01", "1 2", "+1", "1x", "[1", "tru", "\u{c}1"] {
            assert!(check(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
