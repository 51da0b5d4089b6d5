//! Any bytes as a run's inputs, as a JSON array and as JSON Lines: the
//! reader yields items or one error, every item it yields is valid raw JSON,
//! its two ways of reading (a `RawValue` per item for the library, raw
//! bytes appended to a batch for the command line) agree item for item, and
//! so do its quick path (items whole in the buffer) and its general one (a
//! one-byte buffer never holds an item whole), and, for an array, reading
//! plain integers in runs as the command line's batches do.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/input/items.rs"]
#[allow(dead_code)]
mod items;
// items.rs checks raw items with its sibling `json`.
#[path = "../../src/input/scan.rs"]
#[allow(dead_code)]
mod scan;
#[path = "../../src/input/json.rs"]
#[allow(dead_code)]
mod json;

use items::{ItemError, ItemFormat, ItemReader};

/// The items of an array read as the command line's batches read them
/// (integers in runs, anything else one by one), and the error if any.
fn in_runs(data: &[u8], capacity: usize) -> (Vec<Vec<u8>>, Option<ItemError>) {
    let mut reader = ItemReader::new(std::io::BufReader::with_capacity(capacity, data), ItemFormat::Json);
    let (mut json, mut ends) = (Vec::new(), Vec::new());
    loop {
        if reader.read_integers_into(&mut json, &mut ends, 5, usize::MAX) > 0 {
            continue;
        }
        match reader.read_into(&mut json) {
            Some(Ok(())) => ends.push(json.len()),
            Some(Err(e)) => return (split(&json, &ends), Some(e)),
            None => return (split(&json, &ends), None),
        }
    }
}

fn split(json: &[u8], ends: &[usize]) -> Vec<Vec<u8>> {
    let mut start = 0;
    ends.iter().map(|&end| json[std::mem::replace(&mut start, end)..end].to_vec()).collect()
}

fuzz_target!(|data: &[u8]| {
    for format in [ItemFormat::Json, ItemFormat::Jsonl] {
        let mut raw = ItemReader::new(data, format);
        let mut general = ItemReader::new(std::io::BufReader::with_capacity(1, data), format);
        let mut batch = Vec::new();
        for item in ItemReader::new(data, format) {
            let appended = raw.read_into(&mut batch).expect("as many raw items as values");
            let slowly = general.next().expect("as many items byte by byte");
            assert_eq!(
                item.as_ref().map(|value| value.get()).map_err(Clone::clone),
                slowly.as_ref().map(|value| value.get()).map_err(Clone::clone)
            );
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
        // All three end together: after the last item, or after the error.
        assert!(raw.read_into(&mut batch).is_none());
        assert!(general.next().is_none());
    }
    let mut one_by_one = (Vec::new(), None);
    for item in ItemReader::new(data, ItemFormat::Json) {
        match item {
            Ok(value) => one_by_one.0.push(value.get().as_bytes().to_vec()),
            Err(e) => one_by_one.1 = Some(e),
        }
    }
    for capacity in [7, 1 << 16] {
        assert_eq!(in_runs(data, capacity), one_by_one);
    }
});
