//! Any bytes on a worker's pipe: reading frames and decoding them, in both
//! directions, must return an error or a value, never panic or over-allocate;
//! and the parent's buffered `FrameReader`, fed the bytes in uneven reads as
//! a pipe delivers them, must hand out exactly the frames `read_frame` reads.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

// The wire's two std-only files, as siblings, as they are in `wire/`.
#[path = "../../src/wire/frame.rs"]
#[allow(dead_code)]
mod frame;
#[path = "../../src/wire/codec.rs"]
#[allow(dead_code)]
mod codec;

mod protocol {
    pub use super::codec::*;
    pub use super::frame::*;
}

use protocol::ToWorker;

/// A reader whose reads return at most 1, 2, 3, … bytes in turn.
struct Uneven<'a>(&'a [u8], usize);

impl Read for Uneven<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 7 + 1;
        let n = buf.len().min(self.1).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut stream = data;
    let mut frame = Vec::new();
    let mut frames = Vec::new();
    let clean_end = loop {
        match protocol::read_frame(&mut stream, &mut frame) {
            Ok(true) => frames.push(frame.clone()),
            Ok(false) => break true,
            Err(_) => break false,
        }
        let _ = protocol::decode_from_worker(&frame);
        if let Ok(ToWorker::Chunk(chunk)) = protocol::decode_to_worker(&frame) {
            // Every declared item is visited; a malformed one ends the walk.
            for item in chunk.items() {
                if item.is_err() {
                    break;
                }
            }
        }
    };

    let mut reader = protocol::FrameReader::new(Uneven(data, 0));
    let mut buffered = Vec::new();
    let buffered_clean_end = 'read: loop {
        loop {
            match reader.buffered_frame() {
                Ok(Some(frame)) => buffered.push(frame.to_vec()),
                Ok(None) => break,
                Err(_) => break 'read false,
            }
        }
        match reader.fill() {
            Ok(true) => {}
            Ok(false) => break true,
            Err(_) => break false,
        }
    };
    assert_eq!(buffered, frames);
    assert_eq!(buffered_clean_end, clean_end);
});
