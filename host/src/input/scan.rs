//! Scanning JSON text for where things are: the line and column of a
//! position, where a value inside an array ends, and JSON's white space,
//! for the [`ItemReader`](super::items::ItemReader), which hands out raw
//! items without parsing them when it can.

use super::items::ItemError;

/// The line and column after `bytes`, read from `line`:`column`.
pub(super) fn position_after(line: usize, column: usize, bytes: &[u8]) -> (usize, usize) {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => (line + bytes.iter().filter(|&&b| b == b'\n').count(), bytes.len() - last),
        None => (line, column + bytes.len()),
    }
}

/// A parse error of an item that starts at `line`:`column`, placed in the
/// whole input.
pub(super) fn locate(e: serde_json::Error, line: usize, column: usize) -> ItemError {
    let (l, c) = (e.line(), e.column());
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    if l <= 1 {
        ItemError::Syntax { line, column: column + c.saturating_sub(1), message }
    } else {
        ItemError::Syntax { line: line + l - 1, column: c, message }
    }
}

/// Where a JSON value inside an array ends: scans for the `,` or `]` at
/// its own depth, outside strings, across as many slices as it takes.
#[derive(Debug, Default)]
pub(super) struct ValueScan {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl ValueScan {
    /// The index in `bytes` of the `,` or `]` that ends the value, if it is there.
    pub(super) fn end_in(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' if self.depth > 0 => self.depth -= 1,
                b',' | b']' if self.depth == 0 => return Some(i),
                _ => {}
            }
        }
        None
    }
}

/// How many bytes of white space `bytes` ends with.
pub(super) fn trailing_space(bytes: &[u8]) -> usize {
    bytes.iter().rev().take_while(|b| is_json_space(**b)).count()
}

/// JSON's white space (not form feed, which `u8::is_ascii_whitespace` counts).
pub(super) fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}
