//! The commonest input of all, `map` over integers: an argument array of
//! one integer, `[INTEGER]`, found and handed to its parameter's type without
//! serde_json. A tiny task spent about a third of its time splitting that
//! array, and then a fifth parsing the integer through a JSON deserializer.
//! Whatever this path cannot answer exactly as serde_json would (anything
//! but a plain in-range integer, or a type that refuses one) takes the
//! general path, so values and error messages are the same either way.

use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

/// The integer's text in `[INTEGER]` (an optional `-`, then digits with no
/// leading zero); `None` for anything else.
pub(crate) fn lone_integer(input: &[u8]) -> Option<&str> {
    let digits = input.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let unsigned = digits.strip_prefix(b"-").unwrap_or(digits);
    let valid = match unsigned {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ => unsigned.iter().all(u8::is_ascii_digit),
    };
    // SAFETY: the bytes were just checked to be ASCII digits and a sign,
    // which are UTF-8 (a checked conversion was 5% of a tiny task's time).
    valid.then(|| unsafe { std::str::from_utf8_unchecked(digits) })
}

/// `text` (from [`lone_integer`]) as a `T`, the way serde_json would give it
/// one: `visit_u64` for a non-negative integer, `visit_i64` for a negative
/// one. `None` where serde_json would do otherwise (`-0` and integers out of
/// the 64-bit ranges are floats to it) or where `T` refuses the integer:
/// then the caller parses with serde_json, for its value or its message.
pub(crate) fn deserialize<'de, T: Deserialize<'de>>(text: &'de str) -> Option<T> {
    T::deserialize(Integer(text)).ok()
}

/// A deserializer of one integer's text.
struct Integer<'de>(&'de str);

/// Why the fast path gave up; never shown (the general path reports).
type GaveUp = serde::de::value::Error;

impl<'de> Deserializer<'de> for Integer<'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        let gave_up = || <GaveUp as serde::de::Error>::custom("not a 64-bit integer");
        if self.0.starts_with('-') {
            match self.0.parse::<i64>() {
                Ok(n) if n != 0 => visitor.visit_i64(n),
                _ => Err(gave_up()),
            }
        } else {
            visitor.visit_u64(self.0.parse().map_err(|_| gave_up())?)
        }
    }

    // serde_json gives an `Option` parameter `Some` of what is there.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_integer_in_brackets_is_one() {
        for (input, found) in [
            (&b"[7]"[..], Some("7")),
            (b"[-12]", Some("-12")),
            (b"[0]", Some("0")),
            (b"[-0]", Some("-0")),
            (b"[01]", None),
            (b"[-]", None),
            (b"[]", None),
            (b"[1.5]", None),
            (b"[1,2]", None),
            (b"[ 1]", None),
            (b"7", None),
        ] {
            assert_eq!(lone_integer(input), found, "{}", String::from_utf8_lossy(input));
        }
    }

    /// What serde_json makes of `text` as a `T`: the reference.
    fn by_serde_json<'de, T: Deserialize<'de>>(text: &'de str) -> Option<T> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn every_answer_is_serde_jsons_and_the_rest_is_left_to_it() {
        let texts = [
            "0",
            "-0",
            "1",
            "-1",
            "255",
            "256",
            "-128",
            "-129",
            "65535",
            "4294967295",
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234567890",
        ];
        macro_rules! agrees {
            ($($t:ty),*) => {$(
                for text in texts {
                    let fast = deserialize::<$t>(text);
                    // Where it answers, it answers as serde_json does.
                    if fast.is_some() {
                        assert_eq!(fast, by_serde_json::<$t>(text), "{text} as {}", stringify!($t));
                    }
                }
            )*};
        }
        agrees!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, f32, f64, Option<i64>, Option<u8>, serde_json::Value);
        // It answers the common cases itself…
        assert_eq!(deserialize::<i64>("-12"), Some(-12));
        assert_eq!(deserialize::<u8>("255"), Some(255));
        assert_eq!(deserialize::<f64>("3"), Some(3.0));
        assert_eq!(deserialize::<Option<i32>>("7"), Some(Some(7)));
        assert_eq!(deserialize::<serde_json::Value>("-5"), Some(serde_json::json!(-5)));
        // …and leaves to serde_json what it would make a float of, and what
        // the type refuses (serde_json then gives the message).
        assert_eq!(deserialize::<f64>("-0"), None);
        assert_eq!(deserialize::<i64>("18446744073709551616"), None);
        assert_eq!(deserialize::<u8>("256"), None);
        assert_eq!(deserialize::<u8>("-3"), None);
        assert_eq!(deserialize::<String>("7"), None);
        assert_eq!(deserialize::<bool>("1"), None);
    }
}
