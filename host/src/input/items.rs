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

impl<R: std::io::Read> ItemReader<std::io::BufReader<R>> {
    /// Appends the array's next items to `out` while they are plain
    /// integers (`-?(0|[1-9][0-9]*)`, the commonest input of tiny tasks),
    /// each with the `,` or `]` after it already buffered, pushing where
    /// each ends in `out` to `ends`: at most `max_items` of them, and none
    /// once `out` holds `max_bytes`. It reads nothing (what is buffered
    /// only, so it never waits), and it takes in one tight pass what
    /// [`read_into`](ItemReader::read_into) would take item by item,
    /// the same bytes, with the same line and column after them. It stops,
    /// having taken nothing of it, at anything else: another value, an
    /// error, the array's end, an item not yet whole in the buffer; returns
    /// how many items it took.
    ///
    /// ```
    /// use std::io::BufReader;
    /// use rpool_wasm::{ItemFormat, ItemReader};
    ///
    /// let input = &b"[1, -20, 3.5, 4]"[..];
    /// let mut reader = ItemReader::new(BufReader::new(input), ItemFormat::Json);
    /// let (mut json, mut ends) = (Vec::new(), Vec::new());
    /// let mut one = |reader: &mut ItemReader<_>, json: &mut Vec<u8>, ends: &mut Vec<usize>| {
    ///     reader.read_into(json).unwrap().unwrap();
    ///     ends.push(json.len());
    /// };
    /// // The array's `[` and first item are read by the general path…
    /// one(&mut reader, &mut json, &mut ends);
    /// // …then a run of integers, up to `3.5`, which it reads too.
    /// assert_eq!(reader.read_integers_into(&mut json, &mut ends, 100, 1 << 20), 1);
    /// one(&mut reader, &mut json, &mut ends);
    /// assert_eq!(reader.read_integers_into(&mut json, &mut ends, 100, 1 << 20), 1);
    /// assert!(reader.read_into(&mut json).is_none());
    /// assert_eq!((&json[..], &ends[..]), (&b"1-203.54"[..], &[1, 4, 7, 8][..]));
    /// ```
    pub fn read_integers_into(
        &mut self,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        max_items: usize,
        max_bytes: usize,
    ) -> usize {
        let mut after_item = match (self.format, self.state) {
            (ItemFormat::Json, State::Separator) => true,
            (ItemFormat::Json, State::Value { .. }) => false,
            _ => return 0,
        };
        if self.failed {
            return 0;
        }
        let buf = self.reader.buffer();
        // Taken so far: up to `taken` (the `,` or `]` after the last item),
        // which leaves the line at `line`, and at `column` on it (or, when
        // a newline was among the bytes taken, after the byte at
        // `line_start - 1`).
        let (mut taken, mut line, mut line_start) = (0, self.line, None);
        let mut count = 0;
        while count < max_items && out.len() < max_bytes {
            let (mut at, mut item_line, mut item_line_start) = (taken, line, line_start);
            let mut skip_space = |at: &mut usize| {
                while let Some(&b) = buf.get(*at).filter(|b| is_json_space(**b)) {
                    *at += 1;
                    if b == b'\n' {
                        item_line += 1;
                        item_line_start = Some(*at);
                    }
                }
            };
            skip_space(&mut at);
            if after_item {
                if buf.get(at) != Some(&b',') {
                    break;
                }
                at += 1;
                skip_space(&mut at);
            }
            let start = at;
            if buf.get(at) == Some(&b'-') {
                at += 1;
            }
            match buf.get(at) {
                Some(b'0') => at += 1,
                Some(b'1'..=b'9') => {
                    at += 1 + buf[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                }
                _ => break,
            }
            let end = at;
            skip_space(&mut at);
            if !matches!(buf.get(at), Some(b',' | b']')) {
                break;
            }
            out.extend_from_slice(&buf[start..end]);
            ends.push(out.len());
            (taken, line, line_start) = (at, item_line, item_line_start);
            after_item = true;
            count += 1;
        }
        if count > 0 {
            self.column = match line_start {
                Some(line_start) => taken - line_start + 1,
                None => self.column + taken,
            };
            self.line = line;
            self.state = State::Separator;
            self.reader.consume(taken);
        }
        count
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

    /// What a batch reader that takes integers in runs reads (as the command
    /// line's does: a run, else one item), through a buffer of `capacity`.
    fn read_in_runs(text: &str, capacity: usize) -> (Vec<String>, Option<String>) {
        let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
        let mut reader = ItemReader::new(reader, ItemFormat::Json);
        let (mut json, mut ends) = (Vec::new(), Vec::new());
        let mut error = None;
        loop {
            if reader.read_integers_into(&mut json, &mut ends, 3, usize::MAX) > 0 {
                continue;
            }
            match reader.read_into(&mut json) {
                Some(Ok(())) => ends.push(json.len()),
                Some(Err(e)) => {
                    error = Some(e.to_string());
                    break;
                }
                None => break,
            }
        }
        let mut start = 0;
        let items = ends
            .iter()
            .map(|&end| String::from_utf8(json[std::mem::replace(&mut start, end)..end].to_vec()).unwrap())
            .collect();
        (items, error)
    }

    /// The items the iterator yields, and its error.
    fn read_one_by_one(text: &str) -> (Vec<String>, Option<String>) {
        let mut items = Vec::new();
        for item in ItemReader::new(text.as_bytes(), ItemFormat::Json) {
            match item {
                Ok(value) => items.push(value.get().to_string()),
                Err(e) => return (items, Some(e.to_string())),
            }
        }
        (items, None)
    }

    #[test]
    fn integers_in_runs_are_the_items_and_errors_read_one_by_one() {
        let mut texts: Vec<String> = [
            "[1, 2 ,3]",
            " [ -0,0,-12 ,\n 7\n,8 ]\n",
            "[1, 01]",
            "[1, -]",
            "[1, -x]",
            "[1,2 3]",
            "[1,\n {x}]",
            "[1, 1.5, 2, \"a\", 3e2, 4, [5], 6]",
            "[]",
            "[1]",
            "[1, 2",
            "[1, 2,]",
            "[1] x",
            "  [\n1,\n\n2\t,\r\n3]",
            "[12345678901234567890123, -5, 10]",
            "[1,2,3,4,5,6,7,8,9,10,11,12]",
            "[1,\n2,\n3,\n4,\n5,\n6,\n7,\n8,\n9,\n 0,\n x]",
            "[7 , 8 ,\n\n  9 , tru]",
        ]
        .map(String::from)
        .to_vec();
        // And items of every kind, one after another, with white space
        // (newlines too) around them, ending well or at a mistake.
        let kinds = ["0", "-3", "42", "1.5", "\"s\"", "[1]", "null", "-0", "9e1"];
        let spaces = ["", " ", "\n", " \n\t", "\r\n "];
        for seed in 0..60usize {
            let mut text = String::from("[");
            for i in 0..(seed % 13) {
                let space = |k: usize| spaces[(seed * 7 + i * 3 + k) % spaces.len()];
                text += &format!(
                    "{}{}{}{}",
                    if i > 0 { "," } else { "" },
                    space(0),
                    kinds[(seed + i * 5) % kinds.len()],
                    space(1)
                );
            }
            text += ["]", "]", ", 01]", ",]", " 1 2]", ""][seed % 6];
            texts.push(text);
        }
        for text in &texts {
            let expected = read_one_by_one(text);
            for capacity in [1, 2, 3, 5, 8, 13, 64, 1 << 16] {
                assert_eq!(read_in_runs(text, capacity), expected, "{text:?} through a buffer of {capacity}");
            }
        }
    }

    #[test]
    fn integers_in_runs_stop_at_their_limits_and_take_nothing_of_json_lines() {
        let text = "[1, 2, 3, 4, 5]";
        let mut reader = ItemReader::new(std::io::BufReader::new(text.as_bytes()), ItemFormat::Json);
        let (mut json, mut ends) = (Vec::new(), Vec::new());
        assert_eq!(reader.read_integers_into(&mut json, &mut ends, 9, 9), 0, "nothing before the array's `[`");
        assert_eq!(reader.read_into(&mut json), Some(Ok(())));
        ends.push(json.len());
        assert_eq!(reader.read_integers_into(&mut json, &mut ends, 2, 9), 2, "two items at most");
        assert_eq!(reader.read_integers_into(&mut json, &mut ends, 9, 4), 1, "until 4 bytes are held");
        assert_eq!((json.as_slice(), ends.as_slice()), (&b"1234"[..], &[1, 2, 3, 4][..]));
        assert_eq!(reader.read_integers_into(&mut json, &mut ends, 9, 9), 1);
        assert_eq!(reader.read_integers_into(&mut json, &mut ends, 9, 9), 0, "the array's end");
        assert!(reader.read_into(&mut json).is_none());

        let mut lines = ItemReader::new(std::io::BufReader::new(&b"1\n2\n"[..]), ItemFormat::Jsonl);
        assert_eq!(lines.read_integers_into(&mut json, &mut ends, 9, 99), 0);
        assert_eq!(lines.next().map(|item| item.unwrap().get().to_string()), Some("1".into()));
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(ItemFormat::from_path("a/items.jsonl".as_ref()), ItemFormat::Jsonl);
        assert_eq!(ItemFormat::from_path("items.ndjson".as_ref()), ItemFormat::Jsonl);
        assert_eq!(ItemFormat::from_path("items.json".as_ref()), ItemFormat::Json);
        assert_eq!(ItemFormat::from_path("-".as_ref()), ItemFormat::Json);
    }
}
