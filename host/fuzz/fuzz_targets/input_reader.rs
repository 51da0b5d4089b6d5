//! Any bytes as a run's inputs, as a JSON array and as JSON Lines: the
//! reader yields items or one error, every item it yields is valid raw JSON,
//! and its two ways of reading (a `RawValue` per item for the library, raw
//! bytes appended to a batch for the command line) agree item for item.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/items.rs"]
#[allow(dead_code)]
mod items;
// items.rs checks raw items with `crate::json`.
#[path = "../../src/json.rs"]
#[allow(dead_code)]
mod json;

use items::{ItemFormat, ItemReader};

fuzz_target!(|data: &[u8]| {
    for format in [ItemFormat::Json, ItemFormat::Jsonl] {
        let mut raw = ItemReader::new(data, format);
        let mut batch = Vec::new();
        for item in ItemReader::new(data, format) {
            let appended = raw.read_into(&mut batch).expect("as many raw items as values");
            match item {
                // Raw JSON, passed on untouched (numbers beyond f64 too):
                // it parses again as raw JSON, with no white space around it.
                Ok(value) => {
                    let text = value.get();
                    assert!(serde_json::from_str::<Box<serde_json::value::RawValue>>(text).is_ok());
                    assert_eq!(text, text.trim());
                    assert!(appended.is_ok());
                    assert_eq!(std::mem::take(&mut batch), text.as_bytes());
                }
                Err(error) => {
                    assert_eq!(appended, Err(error));
                    break;
                }
            }
        }
    }
});
