//! What a trap says: the limit it hit, the trap code or the host's error,
//! and where in the guest it happened, as Python's traceback says where an
//! exception came from. One line by default (the function that trapped and
//! the two frames above it, `… at parse ← square ← __rpool_square`); every
//! frame, with its module offset, when the pool asks for whole backtraces
//! ([`PoolBuilder::backtraces`](crate::PoolBuilder::backtraces)).

use serde::{Deserialize, Serialize};

use super::limits::{Limits, format_duration};

/// How much of a trap's backtrace an item's error shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Backtrace {
    /// The function that trapped and the two above it, on the message's line.
    #[default]
    Short,
    /// Every frame, innermost first, one per line under the message.
    Full,
}

/// Frames shown on a short backtrace's line.
const SHORT_FRAMES: usize = 3;

/// A trap's description on one line, without where it happened.
pub(crate) fn describe_trap(e: &wasmtime::Error, limits: &Limits) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => match limits.timeout {
            Some(timeout) => format!("timed out after {}", format_duration(timeout)),
            None => "interrupted".to_string(),
        },
        Some(wasmtime::Trap::OutOfFuel) => format!("ran out of fuel ({} units; --fuel)", limits.fuel.unwrap_or(0)),
        Some(trap) => trap.to_string(),
        // A host function's or the limiter's own error, under wasmtime's
        // backtrace context.
        None => e.root_cause().to_string().lines().next().unwrap_or("trap").to_string(),
    }
}

/// Where in the guest the trap happened (see the module docs), to follow
/// its description; empty when wasmtime recorded no frames.
pub(crate) fn trap_location(e: &wasmtime::Error, backtrace: Backtrace) -> String {
    e.downcast_ref::<wasmtime::WasmBacktrace>().map(|trace| location(trace.frames(), backtrace)).unwrap_or_default()
}

/// ` at f ← g ← h` (innermost first), or every frame on a line of its own.
fn location(frames: &[wasmtime::FrameInfo], backtrace: Backtrace) -> String {
    let name = |frame: &wasmtime::FrameInfo| match frame.func_name() {
        Some(name) => demangle(name),
        None => format!("<function {}>", frame.func_index()),
    };
    match backtrace {
        Backtrace::Short => {
            let mut names: Vec<String> = frames.iter().take(SHORT_FRAMES).map(name).collect();
            if names.is_empty() {
                return String::new();
            }
            if frames.len() > SHORT_FRAMES {
                names.push("…".into());
            }
            format!(" at {}", names.join(" ← "))
        }
        Backtrace::Full => {
            let mut text = String::new();
            for (i, frame) in frames.iter().enumerate() {
                let offset = frame.module_offset().map(|o| format!(" (module offset {o:#x})")).unwrap_or_default();
                text.push_str(&format!("\n  {i}: {}{offset}", name(frame)));
            }
            text
        }
    }
}

/// A Rust symbol without its hash (`my_task::parse`); other names as they are.
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_lose_their_hash_and_others_stay() {
        assert_eq!(demangle("_ZN7my_task5parse17h0123456789abcdefE"), "my_task::parse");
        assert_eq!(demangle("square"), "square");
    }
}
