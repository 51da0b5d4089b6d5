//! Any bytes on a worker's pipe: reading frames and decoding them, in both
//! directions, must return an error or a value, never panic or over-allocate.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use protocol::ToWorker;

fuzz_target!(|data: &[u8]| {
    let mut stream = data;
    let mut frame = Vec::new();
    while let Ok(true) = protocol::read_frame(&mut stream, &mut frame) {
        let _ = protocol::decode_from_worker(&frame);
        if let Ok(ToWorker::Chunk(chunk)) = protocol::decode_to_worker(&frame) {
            // Every declared item is visited; a malformed one ends the walk.
            for item in chunk.items() {
                if item.is_err() {
                    break;
                }
            }
        }
    }
});
