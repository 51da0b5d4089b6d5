//! Any bytes as a run's inputs, as a JSON array and as JSON Lines: the
//! reader yields items or one error, and every item it yields is valid JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rpool_wasm::{ItemFormat, ItemReader};

fuzz_target!(|data: &[u8]| {
    for format in [ItemFormat::Json, ItemFormat::Jsonl] {
        for item in ItemReader::new(data, format) {
            match item {
                Ok(value) => assert!(serde_json::from_str::<serde_json::Value>(value.get()).is_ok()),
                Err(_) => break,
            }
        }
    }
});
