//! Frames on a byte stream: `len: u32 LE` (of what follows), then the
//! frame (`tag: u8`, then its body). Reading them from a blocking stream
//! one at a time, or many at a time through a buffer; writing them.

use std::io::{self, Read, Write};

/// Frames larger than this are refused: a corrupt length must not make the
/// reader allocate gigabytes.
pub const MAX_FRAME: usize = 1 << 30;

/// A malformed frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame ends before a field it declares.
    #[error("truncated frame: {0}")]
    Truncated(&'static str),
    /// The tag is not one this side understands.
    #[error("unknown frame tag {0}")]
    UnknownTag(u8),
    /// A result's status byte is unknown.
    #[error("unknown result status {0}")]
    UnknownStatus(u8),
    /// The declared length exceeds [`MAX_FRAME`] or is empty.
    #[error("bad frame length {0}")]
    Length(usize),
    /// A text field is not UTF-8.
    #[error("frame field is not UTF-8")]
    Utf8,
}

/// Reads one frame into `buf` (tag first), reusing its allocation.
/// Returns `Ok(false)` on a clean end of stream before a frame starts.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    // The end of the stream is clean only before a frame's first byte.
    loop {
        match r.read(&mut len[..1]) {
            Ok(0) => return Ok(false),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    r.read_exact(&mut len[1..])?;
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, FrameError::Length(len)));
    }
    // Grow the buffer as bytes arrive rather than to the declared length:
    // a corrupt length must not cost its size before the stream runs dry.
    buf.clear();
    r.take(len as u64).read_to_end(buf)?;
    if buf.len() < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, FrameError::Truncated("frame body")));
    }
    Ok(true)
}

/// Reads frames from a stream through a buffer of its own, handing them out
/// borrowed: a reader that takes every frame already buffered before it
/// reads again copies nothing per frame and makes one `read` per batch.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// The unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// A [`FrameReader`]'s buffer, to begin with and to shrink back to.
const READ_BUFFER: usize = 64 << 10;

impl<R: Read> FrameReader<R> {
    /// Reads frames from `inner`.
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader { inner, buf: vec![0; READ_BUFFER], start: 0, end: 0 }
    }

    /// The next frame (tag first) if it is whole in the buffer; `Ok(None)`
    /// if [`fill`](FrameReader::fill) must read more first.
    pub fn buffered_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let available = &self.buf[self.start..self.end];
        let Some(head) = available.first_chunk::<4>() else { return Ok(None) };
        let len = u32::from_le_bytes(*head) as usize;
        if len == 0 || len > MAX_FRAME {
            return Err(FrameError::Length(len));
        }
        if available.len() - 4 < len {
            return Ok(None);
        }
        let frame = self.start + 4..self.start + 4 + len;
        self.start = frame.end;
        Ok(Some(&self.buf[frame]))
    }

    /// Reads more of the stream (blocking until some bytes come); `Ok(false)`
    /// at a clean end of stream, an error if it ends inside a frame.
    pub fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == 0 && self.buf.len() > READ_BUFFER {
            // A big frame came and went: give its memory back.
            self.buf = vec![0; READ_BUFFER];
        }
        if self.end == self.buf.len() {
            // Grow with the bytes that actually arrived, not to the declared
            // length: a corrupt length must not cost its size up front.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) if self.end == 0 => return Ok(false),
                Ok(0) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, FrameError::Truncated("frame")));
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Writes a frame whose body is `body`, in one write: on a pipe, the reader
/// then wakes once for it (the start and shutdown frames go straight to a
/// worker's stdin, and a worker waits for its start frame).
pub fn write_frame(w: &mut impl Write, tag: u8, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len() + 1)
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, FrameError::Length(body.len() + 1)))?;
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.push(tag);
    frame.extend_from_slice(body);
    w.write_all(&frame)
}

#[cfg(test)]
mod tests {
    use super::super::codec::{FromWorker, Status, TAG_READY, decode_from_worker, write_result};
    use super::*;

    fn frames_in_steps(stream: &[u8], step: usize) -> Result<Vec<Vec<u8>>, String> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = FrameReader::new(Trickle(stream, step));
        let mut frames = Vec::new();
        loop {
            while let Some(frame) = reader.buffered_frame().map_err(|e| e.to_string())? {
                frames.push(frame.to_vec());
            }
            if !reader.fill().map_err(|e| e.to_string())? {
                return Ok(frames);
            }
        }
    }

    #[test]
    fn frame_reader_hands_out_whole_frames_however_the_bytes_arrive() {
        let mut stream = Vec::new();
        write_result(&mut stream, 1, Status::Ok, b"[1]").unwrap();
        let big = vec![b'7'; 3 * READ_BUFFER + 5];
        write_result(&mut stream, 2, Status::Ok, &big).unwrap();
        write_frame(&mut stream, TAG_READY, &[]).unwrap();
        for step in [1, 3, 4096, usize::MAX] {
            let frames = frames_in_steps(&stream, step).unwrap();
            assert_eq!(frames.len(), 3, "step {step}");
            assert_eq!(
                decode_from_worker(&frames[1]).unwrap(),
                FromWorker::Result { index: 2, status: Status::Ok, payload: &big }
            );
            assert_eq!(decode_from_worker(&frames[2]).unwrap(), FromWorker::Ready(None));
        }
        // Ending inside a frame, or a length of zero, is an error.
        assert!(frames_in_steps(&stream[..stream.len() - 1], 7).unwrap_err().contains("truncated"));
        assert!(frames_in_steps(&[0, 0, 0, 0, 1], 7).unwrap_err().contains("bad frame length 0"));
    }

    #[test]
    fn a_stream_that_ends_inside_a_frame_did_not_end_cleanly() {
        let mut buf = Vec::new();
        assert!(read_frame(&mut &[0u8, 0, 0, 0][..], &mut buf).is_err());
        assert!(!read_frame(&mut &[][..], &mut buf).unwrap());
        assert!(read_frame(&mut &[5u8, 0][..], &mut buf).is_err());
    }
}
