//! Any bytes as a run's inputs, as a JSON array and as JSON Lines: the
//! reader yields items or one error, and every item it yields is valid raw JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/items.rs"]
#[allow(dead_code)]
mod items;

use items::{ItemFormat, ItemReader};

fuzz_target!(|data: &[u8]| {
    for format in [ItemFormat::Json, ItemFormat::Jsonl] {
        for item in ItemReader::new(data, format) {
            match item {
                // Raw JSON, passed on untouched (numbers beyond f64 too):
                // it parses again as raw JSON, with no white space around it.
                Ok(value) => {
                    let text = value.get();
                    assert!(serde_json::from_str::<Box<serde_json::value::RawValue>>(text).is_ok());
                    assert_eq!(text, text.trim());
                }
                Err(_) => break,
            }
        }
    }
});
