//! The wire between the parent and a worker: frames in (start, chunks of
//! items, shutdown), frames out (ready, one result per item, fatal). It
//! knows nothing of how frames are carried (pipes to a child process
//! today; a message broker's subjects are the seam a second transport
//! plugs into), only of `Read`/`Write` and byte buffers.
//!
//! Every frame is `len: u32 LE` (of what follows), `tag: u8`, then the body
//! ([`frame`]). Integers are little-endian. The start frame's body is the
//! worker's configuration as JSON ([`worker_config`]), which carries the
//! protocol version; the ready frame's body is the worker's version, `u32`.
//! A chunk body is `func_len: u16, func, count: u32, count × (index: u64,
//! len: u32, args JSON)`; a result body is `index: u64, status: u8,
//! payload` (the rest of the frame) ([`codec`]).
//!
//! `frame.rs` and `codec.rs` use nothing but `std` and `thiserror`, so that
//! the fuzz targets (`host/fuzz`) compile them alone.

mod codec;
mod frame;
pub(crate) mod worker_config;

pub(crate) use codec::*;
pub(crate) use frame::*;

/// The first argument that puts a program into worker mode
/// (`PROGRAM __rpool-worker`).
pub(crate) const WORKER_ARG: &str = "__rpool-worker";
