//! The frames' bodies: what the parent sends (start, chunk, shutdown) and
//! what a worker sends back (ready, one result per item, fatal), and the
//! encoder that builds a chunk frame item by item.

use std::io::{self, Write};

use super::frame::{FrameError, MAX_FRAME};

/// The version of this protocol, exchanged when a worker starts: a worker
/// program of another version is refused rather than fed frames it would
/// misread. Raise it whenever a frame's layout or the start frame's
/// configuration changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 3;

/// Parent → worker: start (body: the worker's configuration as JSON, opaque to the protocol).
pub const TAG_START: u8 = 1;
/// Parent → worker: a chunk of items to run.
pub const TAG_CHUNK: u8 = 2;
/// Parent → worker: finish and exit.
pub const TAG_SHUTDOWN: u8 = 3;
/// Parent → worker: a chunk whose items are each a chunk of their own (a
/// job's `chunksize` 1), sent in one frame because they are tiny: the same
/// body as [`TAG_CHUNK`], and the worker runs its items one call each, as
/// it would one-item chunks. (Since protocol version 3.)
pub const TAG_SINGLES: u8 = 4;

/// Worker → parent: loaded and initialized, ready for chunks (body: its
/// [`PROTOCOL_VERSION`], `u32`).
pub const TAG_READY: u8 = 11;
/// Worker → parent: cannot go on (body: message); the worker exits.
pub const TAG_FATAL: u8 = 12;
/// Worker → parent: one item's outcome.
pub const TAG_RESULT: u8 = 13;

/// The outcome of one call, as a result frame carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Success; the payload is the result JSON.
    Ok = 0,
    /// The task returned non-zero; the payload is its message.
    Failed = 1,
    /// The task trapped; the payload is the trap's description.
    Trap = 2,
    /// The task's output was not valid JSON; the payload says why.
    InvalidOutput = 3,
}

impl Status {
    fn from_u8(b: u8) -> Option<Status> {
        Some(match b {
            0 => Status::Ok,
            1 => Status::Failed,
            2 => Status::Trap,
            3 => Status::InvalidOutput,
            _ => return None,
        })
    }
}

/// Writes a result frame.
pub fn write_result(w: &mut impl Write, index: u64, status: Status, payload: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 9];
    head[..8].copy_from_slice(&index.to_le_bytes());
    head[8] = status as u8;
    let len = u32::try_from(1 + head.len() + payload.len())
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, FrameError::Length(payload.len())))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&[TAG_RESULT])?;
    w.write_all(&head)?;
    w.write_all(payload)
}

/// A trap result's payload: the description, then, after a NUL byte, where
/// it trapped (when known). A description never holds a NUL: it is
/// wasmtime's or the host's text, or the guest's message with the trap's.
pub fn trap_payload(description: &str, location: &str) -> Vec<u8> {
    let mut payload = description.as_bytes().to_vec();
    if !location.is_empty() {
        payload.push(0);
        payload.extend_from_slice(location.as_bytes());
    }
    payload
}

/// The parts of a [`trap_payload`].
pub fn split_trap(payload: &[u8]) -> (&[u8], Option<&[u8]>) {
    match payload.iter().position(|&b| b == 0) {
        Some(nul) => (&payload[..nul], Some(&payload[nul + 1..])),
        None => (payload, None),
    }
}

/// A frame the parent sends, decoded (borrowing the frame's buffer).
#[derive(Debug, PartialEq)]
pub enum ToWorker<'a> {
    /// Start with this configuration (JSON: what the worker needs to set
    /// itself up is the worker's business, not the protocol's).
    Start(&'a [u8]),
    /// Run these items.
    Chunk(ChunkView<'a>),
    /// Exit.
    Shutdown,
}

/// A frame the worker sends, decoded (borrowing the frame's buffer).
#[derive(Debug, PartialEq)]
pub enum FromWorker<'a> {
    /// Ready for chunks; the worker's protocol version (`None`: a worker
    /// from before versions were exchanged, whose ready frame is empty).
    Ready(Option<u32>),
    /// Cannot go on.
    Fatal(&'a str),
    /// One item's outcome.
    Result {
        /// The item's index within its job.
        index: u64,
        /// How the call ended.
        status: Status,
        /// Result JSON or message.
        payload: &'a [u8],
    },
}

/// A chunk frame's body: the export and the items' argument arrays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkView<'a> {
    /// The export to call for every item.
    pub func: &'a str,
    /// Whether each item is a chunk of its own ([`TAG_SINGLES`]): it runs in
    /// a call of its own, never grouped with others into a chunk call.
    pub one_by_one: bool,
    count: u32,
    items: &'a [u8],
}

impl<'a> ChunkView<'a> {
    /// The items as the frame lays them out (`index: u64, len: u32, args`
    /// each), for a chunk call that hands them to the guest whole.
    pub fn raw_items(&self) -> &'a [u8] {
        self.items
    }

    /// How many items the chunk declares.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// The items, in order: `(index, args JSON)`, or an error at the first malformed one.
    pub fn items(&self) -> ChunkItems<'a> {
        ChunkItems { rest: self.items, left: self.count }
    }
}

/// Iterator over a chunk's items.
#[derive(Debug, Clone)]
pub struct ChunkItems<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for ChunkItems<'a> {
    type Item = Result<(u64, &'a [u8]), FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = (|| {
            let (index, rest) = take_u64(self.rest, "item index")?;
            let (len, rest) = take_u32(rest, "item length")?;
            let len = len as usize;
            if rest.len() < len {
                return Err(FrameError::Truncated("item arguments"));
            }
            let (args, rest) = rest.split_at(len);
            self.rest = rest;
            Ok((index, args))
        })();
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

fn take_u16<'a>(b: &'a [u8], what: &'static str) -> Result<(u16, &'a [u8]), FrameError> {
    let (h, t) = b.split_at_checked(2).ok_or(FrameError::Truncated(what))?;
    Ok((u16::from_le_bytes([h[0], h[1]]), t))
}

fn take_u32<'a>(b: &'a [u8], what: &'static str) -> Result<(u32, &'a [u8]), FrameError> {
    let (h, t) = b.split_at_checked(4).ok_or(FrameError::Truncated(what))?;
    Ok((u32::from_le_bytes(h.try_into().expect("4 bytes")), t))
}

fn take_u64<'a>(b: &'a [u8], what: &'static str) -> Result<(u64, &'a [u8]), FrameError> {
    let (h, t) = b.split_at_checked(8).ok_or(FrameError::Truncated(what))?;
    Ok((u64::from_le_bytes(h.try_into().expect("8 bytes")), t))
}

/// Decodes a frame (as [`read_frame`] left it) sent by the parent.
pub fn decode_to_worker(frame: &[u8]) -> Result<ToWorker<'_>, FrameError> {
    let (&tag, body) = frame.split_first().ok_or(FrameError::Truncated("tag"))?;
    match tag {
        TAG_START => Ok(ToWorker::Start(body)),
        TAG_CHUNK | TAG_SINGLES => {
            let (func_len, rest) = take_u16(body, "export name length")?;
            let (func, rest) = rest.split_at_checked(func_len as usize).ok_or(FrameError::Truncated("export name"))?;
            let func = std::str::from_utf8(func).map_err(|_| FrameError::Utf8)?;
            let (count, items) = take_u32(rest, "item count")?;
            Ok(ToWorker::Chunk(ChunkView { func, one_by_one: tag == TAG_SINGLES, count, items }))
        }
        TAG_SHUTDOWN => Ok(ToWorker::Shutdown),
        other => Err(FrameError::UnknownTag(other)),
    }
}

/// Decodes a frame (as [`read_frame`] left it) sent by a worker.
pub fn decode_from_worker(frame: &[u8]) -> Result<FromWorker<'_>, FrameError> {
    let (&tag, body) = frame.split_first().ok_or(FrameError::Truncated("tag"))?;
    match tag {
        TAG_READY => match body {
            [] => Ok(FromWorker::Ready(None)),
            [a, b, c, d] => Ok(FromWorker::Ready(Some(u32::from_le_bytes([*a, *b, *c, *d])))),
            _ => Err(FrameError::Truncated("protocol version")),
        },
        TAG_FATAL => std::str::from_utf8(body).map(FromWorker::Fatal).map_err(|_| FrameError::Utf8),
        TAG_RESULT => {
            let (index, rest) = take_u64(body, "result index")?;
            let (&status, payload) = rest.split_first().ok_or(FrameError::Truncated("result status"))?;
            let status = Status::from_u8(status).ok_or(FrameError::UnknownStatus(status))?;
            Ok(FromWorker::Result { index, status, payload })
        }
        other => Err(FrameError::UnknownTag(other)),
    }
}

/// Builds a chunk frame item by item, straight into one buffer: no
/// per-item allocation, whatever the chunk's size.
#[derive(Debug)]
pub struct ChunkEncoder {
    buf: Vec<u8>,
    count_at: usize,
    count: u32,
}

impl ChunkEncoder {
    /// Starts a chunk for export `func` (at most 65535 bytes long).
    pub fn new(func: &str) -> ChunkEncoder {
        let func = &func.as_bytes()[..func.len().min(u16::MAX as usize)];
        let mut buf = Vec::with_capacity(64 + func.len());
        buf.extend_from_slice(&[0; 4]); // frame length, patched in `finish`
        buf.push(TAG_CHUNK);
        buf.extend_from_slice(&(func.len() as u16).to_le_bytes());
        buf.extend_from_slice(func);
        let count_at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        ChunkEncoder { buf, count_at, count: 0 }
    }

    /// Appends an item whose argument array `write` writes into the buffer.
    /// If `write` fails, the item is not added and the error is returned.
    pub fn push<E>(&mut self, index: u64, write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&index.to_le_bytes());
        self.buf.extend_from_slice(&[0; 4]);
        let args_at = self.buf.len();
        if let Err(e) = write(&mut self.buf) {
            self.buf.truncate(start);
            return Err(e);
        }
        let len = (self.buf.len() - args_at) as u32;
        self.buf[args_at - 4..args_at].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
        Ok(())
    }

    /// Makes it a frame of one-item chunks ([`TAG_SINGLES`]).
    pub fn one_by_one(&mut self) {
        self.buf[4] = TAG_SINGLES;
    }

    /// How many items were pushed.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no item was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The finished frame, ready to write as is.
    pub fn finish(mut self) -> Vec<u8> {
        let count_at = self.count_at;
        self.buf[count_at..count_at + 4].copy_from_slice(&self.count.to_le_bytes());
        let len = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::read_frame;
    use super::*;

    fn roundtrip_chunk(items: &[(u64, &str)]) -> Vec<(u64, Vec<u8>)> {
        let mut enc = ChunkEncoder::new("square");
        for (i, a) in items {
            enc.push::<()>(*i, |b| {
                b.extend_from_slice(a.as_bytes());
                Ok(())
            })
            .unwrap();
        }
        let frame = enc.finish();
        let mut buf = Vec::new();
        assert!(read_frame(&mut &frame[..], &mut buf).unwrap());
        let ToWorker::Chunk(chunk) = decode_to_worker(&buf).unwrap() else { panic!("not a chunk") };
        assert_eq!(chunk.func, "square");
        assert_eq!(chunk.len(), items.len());
        chunk.items().map(|r| r.map(|(i, a)| (i, a.to_vec())).unwrap()).collect()
    }

    #[test]
    fn chunk_roundtrip() {
        let got = roundtrip_chunk(&[(0, "[1]"), (7, "[[2,3]]"), (u64::MAX, "[]")]);
        assert_eq!(got, vec![(0, b"[1]".to_vec()), (7, b"[[2,3]]".to_vec()), (u64::MAX, b"[]".to_vec())]);
        assert!(roundtrip_chunk(&[]).is_empty());
    }

    #[test]
    fn a_frame_of_one_item_chunks_is_a_chunk_run_one_by_one() {
        let encode = |one_by_one: bool| {
            let mut enc = ChunkEncoder::new("square");
            if one_by_one {
                enc.one_by_one();
            }
            for i in 0..3 {
                enc.push::<()>(i, |b| {
                    b.extend_from_slice(b"[1]");
                    Ok(())
                })
                .unwrap();
            }
            enc.finish()
        };
        let (plain, singles) = (encode(false), encode(true));
        let ToWorker::Chunk(chunk) = decode_to_worker(&plain[4..]).unwrap() else { panic!("not a chunk") };
        assert!(!chunk.one_by_one);
        assert_eq!(singles[4], TAG_SINGLES);
        assert_eq!(singles[5..], plain[5..], "the same body");
        let ToWorker::Chunk(chunk) = decode_to_worker(&singles[4..]).unwrap() else { panic!("not a chunk") };
        assert!(chunk.one_by_one);
        assert_eq!((chunk.func, chunk.len()), ("square", 3));
    }

    #[test]
    fn failed_push_leaves_no_trace() {
        let mut enc = ChunkEncoder::new("f");
        assert_eq!(
            enc.push(0, |b| {
                b.push(b'x');
                Err("no")
            }),
            Err("no")
        );
        enc.push::<()>(1, |b| {
            b.push(b'1');
            Ok(())
        })
        .unwrap();
        let frame = enc.finish();
        let ToWorker::Chunk(c) = decode_to_worker(&frame[4..]).unwrap() else { panic!() };
        let items: Vec<_> = c.items().collect::<Result<_, _>>().unwrap();
        assert_eq!(items, vec![(1, &b"1"[..])]);
    }

    #[test]
    fn result_roundtrip() {
        let mut out = Vec::new();
        write_result(&mut out, 42, Status::Failed, b"Cannot process 3").unwrap();
        let mut buf = Vec::new();
        read_frame(&mut &out[..], &mut buf).unwrap();
        assert_eq!(
            decode_from_worker(&buf).unwrap(),
            FromWorker::Result { index: 42, status: Status::Failed, payload: b"Cannot process 3" }
        );
    }

    /// Reads every frame of `stream` through a reader whose `read`s return

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        assert_eq!(decode_from_worker(&[TAG_RESULT, 1, 2]), Err(FrameError::Truncated("result index")));
        assert_eq!(decode_from_worker(&[99]), Err(FrameError::UnknownTag(99)));
        assert_eq!(decode_from_worker(&[TAG_READY]), Ok(FromWorker::Ready(None)));
        assert_eq!(decode_from_worker(&[TAG_READY, 2, 0, 0, 0]), Ok(FromWorker::Ready(Some(2))));
        assert_eq!(decode_from_worker(&[TAG_READY, 2]), Err(FrameError::Truncated("protocol version")));
        assert_eq!(decode_from_worker(&[TAG_RESULT, 0, 0, 0, 0, 0, 0, 0, 0, 9]), Err(FrameError::UnknownStatus(9)));
        assert_eq!(decode_to_worker(&[TAG_CHUNK, 5, 0, b'a']), Err(FrameError::Truncated("export name")));
        // A chunk that declares more items than it holds yields an error, then stops.
        let ToWorker::Chunk(c) = decode_to_worker(&[TAG_CHUNK, 1, 0, b'f', 2, 0, 0, 0, 1]).unwrap() else { panic!() };
        let items: Vec<_> = c.items().collect();
        assert_eq!(items, vec![Err(FrameError::Truncated("item index"))]);
    }
}
