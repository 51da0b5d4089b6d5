//! [`ItemReader`]: the items of a JSON array or of JSON Lines, read lazily
//! from any `BufRead`, one at a time, so that an input of any length is
//! consumed in bounded memory. Errors name the line and column.

use std::io::BufRead;

use serde_json::value::RawValue;

use super::scan::{ValueScan, is_json_space, locate, position_after, trailing_space};

/// How the items are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFormat {
    /// One JSON array: `[1, 2, 3]`.
    Json,
    /// JSON Lines: one item per line; blank lines are skipped.
    Jsonl,
}

impl ItemFormat {
    /// JSON Lines for `.jsonl` and `.ndjson` files, else a JSON array.
    pub fn from_path(path: &std::path::Path) -> ItemFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => ItemFormat::Jsonl,
            _ => ItemFormat::Json,
        }
    }
}

/// Why the input could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// Malformed JSON (or not an array, or a stray character) at a position.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The input is not a JSON array of items.
    #[error("the inputs must be a JSON array of items, found {found}")]
    NotAnArray {
        /// What was found instead.
        found: String,
    },
    /// Reading failed.
    #[error("cannot read inputs: {0}")]
    Io(String),
}

/// Where the reader is in a JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// After `[` or `,`: a value must come (or `]` right after `[`).
    Value {
        first: bool,
    },
    /// After a value: `,` or `]` must come.
    Separator,
    Done,
}

/// Reads items lazily; see the module docs.
pub struct ItemReader<R> {
    reader: R,
    format: ItemFormat,
    state: State,
    line: usize,
    column: usize,
    item: Vec<u8>,
    failed: bool,
}

impl<R: BufRead> ItemReader<R> {
    /// Reads items in `format` from `reader`.
    pub fn new(reader: R, format: ItemFormat) -> ItemReader<R> {
        ItemReader { reader, format, state: State::Start, line: 1, column: 1, item: Vec::new(), failed: false }
    }

    /// The underlying reader (to see what it has buffered, say).
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    fn syntax(&self, message: impl Into<String>) -> ItemError {
        ItemError::Syntax { line: self.line, column: self.column, message: message.into() }
    }

    fn bump(&mut self, byte: u8) {
        self.reader.consume(1);
        self.advance(&[byte]);
    }

    /// Moves the line and column past `bytes`.
    fn advance(&mut self, bytes: &[u8]) {
        (self.line, self.column) = position_after(self.line, self.column, bytes);
    }

    fn skip_whitespace(&mut self) -> Result<Option<u8>, ItemError> {
        loop {
            let buf = self.reader.fill_buf().map_err(|e| ItemError::Io(e.to_string()))?;
            if buf.is_empty() {
                return Ok(None);
            }
            let blank = buf.iter().position(|b| !is_json_space(*b)).unwrap_or(buf.len());
            let next = buf.get(blank).copied();
            (self.line, self.column) = position_after(self.line, self.column, &buf[..blank]);
            self.reader.consume(blank);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// One value of the array into `self.item`, scanned to the `,` or `]`
    /// that ends it, a buffered slice at a time, without the white space
    /// after it.
    fn array_value(&mut self) -> Result<(), ItemError> {
        self.item.clear();
        let mut scan = ValueScan::default();
        loop {
            let buf = self.reader.fill_buf().map_err(|e| ItemError::Io(e.to_string()))?;
            if buf.is_empty() {
                break;
            }
            let end = scan.end_in(buf);
            let take = end.unwrap_or(buf.len());
            self.item.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if end.is_some() {
                break;
            }
        }
        let item = std::mem::take(&mut self.item);
        self.advance(&item);
        self.item = item;
        let blank = trailing_space(&self.item);
        self.item.truncate(self.item.len() - blank);
        Ok(())
    }

    /// The common case of the next array item in one pass over what is
    /// buffered already: `, item` after an item (or `item` after `[`), with
    /// white space anywhere between, and the `,` or `]` that ends the item
    /// in the buffer too. Takes the item into `self.item` and returns where
    /// it starts; `None`, having consumed nothing, leaves everything else
    /// (the end of the array, errors, an item longer than the buffer) to
    /// the general path.
    fn quick_array_item(&mut self) -> Option<(usize, usize)> {
        let after_item = match self.state {
            State::Separator => true,
            State::Value { .. } => false,
            State::Start | State::Done => return None,
        };
        let buf = self.reader.fill_buf().ok()?;
        let mut start = buf.iter().position(|&b| !is_json_space(b))?;
        if after_item {
            if buf[start] != b',' {
                return None;
            }
            start += 1 + buf[start + 1..].iter().position(|&b| !is_json_space(b))?;
        }
        if matches!(buf[start], b',' | b']') {
            return None;
        }
        let end = start + ValueScan::default().end_in(&buf[start..])?;
        let (line, column) = position_after(self.line, self.column, &buf[..start]);
        (self.line, self.column) = position_after(line, column, &buf[start..end]);
        let blank = trailing_space(&buf[start..end]);
        self.item.clear();
        self.item.extend_from_slice(&buf[start..end - blank]);
        self.reader.consume(end);
        self.state = State::Separator;
        Some((line, column))
    }

    /// The next item of the array into `self.item`; where it starts, or
    /// `None` after the last.
    fn next_in_array(&mut self) -> Result<Option<(usize, usize)>, ItemError> {
        if let Some(at) = self.quick_array_item() {
            return Ok(Some(at));
        }
        loop {
            let next = self.skip_whitespace()?;
            match (self.state, next) {
                (State::Start, Some(b'[')) => {
                    self.bump(b'[');
                    self.state = State::Value { first: true };
                }
                (State::Start, found) => {
                    let found = match found {
                        None => "nothing".to_string(),
                        Some(b'{') => "an object".to_string(),
                        Some(b) => format!("`{}`", b as char),
                    };
                    return Err(ItemError::NotAnArray { found });
                }
                (State::Value { first: true }, Some(b']')) => {
                    self.bump(b']');
                    self.state = State::Done;
                }
                (State::Value { .. }, Some(b',' | b']')) => return Err(self.syntax("expected value")),
                (State::Value { .. }, Some(_)) => {
                    let at = (self.line, self.column);
                    self.array_value()?;
                    self.state = State::Separator;
                    return Ok(Some(at));
                }
                (State::Separator, Some(b',')) => {
                    self.bump(b',');
                    self.state = State::Value { first: false };
                }
                (State::Separator, Some(b']')) => {
                    self.bump(b']');
                    self.state = State::Done;
                }
                (State::Separator, Some(_)) => return Err(self.syntax("expected `,` or `]`")),
                (State::Value { .. } | State::Separator, None) => return Err(self.syntax("the array is not closed")),
                (State::Done, None) => return Ok(None),
                (State::Done, Some(_)) => return Err(self.syntax("trailing characters after the array")),
            }
        }
    }

    /// The next non-blank line into `self.item`, without the white space
    /// around it; where it starts, or `None` at the end.
    fn next_line(&mut self) -> Result<Option<(usize, usize)>, ItemError> {
        loop {
            self.item.clear();
            let read = self.reader.read_until(b'\n', &mut self.item).map_err(|e| ItemError::Io(e.to_string()))?;
            if read == 0 {
                return Ok(None);
            }
            let line = self.line;
            self.line += 1;
            let blank = trailing_space(&self.item);
            self.item.truncate(self.item.len() - blank);
            let indent = self.item.iter().take_while(|b| is_json_space(**b)).count();
            if self.item.is_empty() {
                continue;
            }
            self.item.drain(..indent);
            return Ok(Some((line, 1 + indent)));
        }
    }

    /// The next item's JSON, unchecked, into `self.item`: where it starts,
    /// or `None` after the last item. After an error, the end.
    fn scan(&mut self) -> Option<Result<(usize, usize), ItemError>> {
        if self.failed {
            return None;
        }
        let next = match self.format {
            ItemFormat::Json => self.next_in_array(),
            ItemFormat::Jsonl => self.next_line(),
        };
        if next.is_err() {
            self.failed = true;
        }
        next.transpose()
    }

    /// Appends the next item's JSON, checked, to `out`, without allocating
    /// anything per item: what a reader that batches items uses. `None`
    /// after the last item or an error.
    pub fn read_into(&mut self, out: &mut Vec<u8>) -> Option<Result<(), ItemError>> {
        let (line, column) = match self.scan()? {
            Ok(at) => at,
            Err(e) => return Some(Err(e)),
        };
        if let Err(e) = super::json::check(&self.item) {
            self.failed = true;
            return Some(Err(locate(e, line, column)));
        }
        out.extend_from_slice(&self.item);
        Some(Ok(()))
    }
}

impl<R: BufRead> Iterator for ItemReader<R> {
    type Item = Result<Box<RawValue>, ItemError>;

    /// The next item; after an error, the end.
    fn next(&mut self) -> Option<Self::Item> {
        let (line, column) = match self.scan()? {
            Ok(at) => at,
            Err(e) => return Some(Err(e)),
        };
        let value = serde_json::from_slice::<Box<RawValue>>(&self.item).map_err(|e| locate(e, line, column));
        self.failed = value.is_err();
        Some(value)
    }
}

impl<R> std::fmt::Debug for ItemReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemReader").field("format", &self.format).field("line", &self.line).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, format: ItemFormat) -> Result<Vec<String>, ItemError> {
        ItemReader::new(text.as_bytes(), format).map(|r| r.map(|v| v.get().to_string())).collect()
    }

    #[test]
    fn arrays() {
        assert_eq!(read("[1, 2 ,3]", ItemFormat::Json).unwrap(), ["1", "2", "3"]);
        assert_eq!(read(" [ ] ", ItemFormat::Json).unwrap(), Vec::<String>::new());
        assert_eq!(
            read(r#"[{"a": [1, "]"]}, "x,\"]", [[2]], null]"#, ItemFormat::Json).unwrap(),
            [r#"{"a": [1, "]"]}"#, r#""x,\"]""#, "[[2]]", "null"]
        );
    }

    #[test]
    fn array_errors_name_line_and_column() {
        let err = |text| read(text, ItemFormat::Json).unwrap_err().to_string();
        assert_eq!(err("[1,\n 2,,]"), "invalid JSON at line 2 column 4: expected value");
        assert_eq!(err("[1, tru]"), "invalid JSON at line 1 column 7: EOF while parsing a value");
        assert_eq!(err("[1 2]"), "invalid JSON at line 1 column 4: trailing characters");
        assert_eq!(err("[1, 2"), "invalid JSON at line 1 column 6: the array is not closed");
        assert_eq!(err("[1] x"), "invalid JSON at line 1 column 5: trailing characters after the array");
        assert_eq!(err("{\"a\": 1}"), "the inputs must be a JSON array of items, found an object");
        assert_eq!(err(""), "the inputs must be a JSON array of items, found nothing");
        assert_eq!(err("[1,]"), "invalid JSON at line 1 column 4: expected value");
    }

    #[test]
    fn json_lines() {
        assert_eq!(read("1\n\n[2, 3]\n{\"a\":4}", ItemFormat::Jsonl).unwrap(), ["1", "[2, 3]", "{\"a\":4}"]);
        assert_eq!(
            read("1\n2\n{x}\n", ItemFormat::Jsonl).unwrap_err().to_string(),
            "invalid JSON at line 3 column 2: key must be a string"
        );
    }

    #[test]
    fn numbers_beyond_f64_pass_through_untouched() {
        // Found by the input_reader fuzz target: valid JSON, out of f64's range.
        assert_eq!(read("2E0909", ItemFormat::Jsonl).unwrap(), ["2E0909"]);
        assert_eq!(read("[1e999, -2E0909]", ItemFormat::Json).unwrap(), ["1e999", "-2E0909"]);
    }

    #[test]
    fn items_before_an_error_are_yielded() {
        let mut reader = ItemReader::new(&b"[1, 2, ?]"[..], ItemFormat::Json);
        assert_eq!(reader.next().unwrap().unwrap().get(), "1");
        assert_eq!(reader.next().unwrap().unwrap().get(), "2");
        assert!(reader.next().unwrap().is_err());
        assert!(reader.next().is_none());
    }

    /// What `read_into` appends, item by item, and its error if any.
    fn read_raw(text: &str, format: ItemFormat) -> (Vec<String>, Option<String>) {
        let mut reader = ItemReader::new(text.as_bytes(), format);
        let (mut items, mut buf) = (Vec::new(), Vec::new());
        while let Some(item) = reader.read_into(&mut buf) {
            if let Err(e) = item {
                return (items, Some(e.to_string()));
            }
            items.push(String::from_utf8(std::mem::take(&mut buf)).unwrap());
        }
        (items, None)
    }

    #[test]
    fn read_into_appends_the_same_items_as_the_iterator() {
        for (text, format) in [
            (" [ 1 , -20,0 ,\n{\"a\": [1, \"]\"]}\t, \"x,\\\"]\" , 1.5e3, null ] ", ItemFormat::Json),
            ("  7 \r\n\n [2, 3]\n\t{\"a\":4}  ", ItemFormat::Jsonl),
        ] {
            let expected = read(text, format).unwrap();
            assert_eq!(read_raw(text, format), (expected, None), "{text:?}");
        }
    }

    #[test]
    fn read_into_checks_items_like_the_iterator() {
        for (text, format) in [
            ("[1, 01]", ItemFormat::Json),
            ("[1, -]", ItemFormat::Json),
            ("[1, 2 3]", ItemFormat::Json),
            ("[1,\n {x}]", ItemFormat::Json),
            ("[1, \u{c}2]", ItemFormat::Json),
            ("1\n  tru\n", ItemFormat::Jsonl),
        ] {
            let expected = read(text, format).unwrap_err().to_string();
            let (items, error) = read_raw(text, format);
            assert_eq!(items, ["1"], "{text:?}");
            assert_eq!(error.as_deref(), Some(&*expected), "{text:?}");
        }
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(ItemFormat::from_path("a/items.jsonl".as_ref()), ItemFormat::Jsonl);
        assert_eq!(ItemFormat::from_path("items.ndjson".as_ref()), ItemFormat::Jsonl);
        assert_eq!(ItemFormat::from_path("items.json".as_ref()), ItemFormat::Json);
        assert_eq!(ItemFormat::from_path("-".as_ref()), ItemFormat::Json);
    }
}
