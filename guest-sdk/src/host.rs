//! The ABI's `rpool` imports on `wasm32`, and an in-process stand-in for them elsewhere.

/// Converts a buffer length to the ABI's `i32`.
fn abi_len(len: usize) -> i32 {
    i32::try_from(len).expect("rpool: buffer longer than i32::MAX bytes")
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::abi_len;

    #[link(wasm_import_module = "rpool")]
    unsafe extern "C" {
        #[link_name = "input_len"]
        fn rpool_input_len() -> i32;
        #[link_name = "input_read"]
        fn rpool_input_read(dst: *mut u8);
        #[link_name = "output_write"]
        fn rpool_output_write(ptr: *const u8, len: i32);
        #[link_name = "error_write"]
        fn rpool_error_write(ptr: *const u8, len: i32);
    }

    pub fn input_into(buf: &mut Vec<u8>) {
        // SAFETY: `input_len` has no preconditions.
        let len = unsafe { rpool_input_len() };
        let len = usize::try_from(len).unwrap_or(0);
        buf.clear();
        buf.resize(len, 0);
        if len > 0 {
            // SAFETY: `buf` has room for exactly `input_len()` bytes, which is what the host
            // copies.
            unsafe { rpool_input_read(buf.as_mut_ptr()) };
        }
    }

    pub fn output(json: &[u8]) {
        let len = abi_len(json.len());
        // SAFETY: `ptr..ptr + len` is a live, initialised slice of guest memory.
        unsafe { rpool_output_write(json.as_ptr(), len) };
    }

    pub fn error(message: &str) {
        let len = abi_len(message.len());
        // SAFETY: `ptr..ptr + len` is a live, initialised slice of guest memory.
        unsafe { rpool_error_write(message.as_ptr(), len) };
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::abi_len;
    use std::cell::RefCell;

    thread_local! {
        static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        static OUTPUT: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
        static ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    pub fn input_into(buf: &mut Vec<u8>) {
        INPUT.with_borrow(|input| {
            buf.clear();
            buf.extend_from_slice(input);
        });
    }

    pub fn output(json: &[u8]) {
        abi_len(json.len());
        OUTPUT.set(Some(json.to_vec()));
    }

    pub fn error(message: &str) {
        abi_len(message.len());
        ERROR.set(Some(message.to_owned()));
    }

    /// Starts a call on this thread: sets its input, forgets the previous call's output/error.
    pub fn begin_call(input: &[u8]) {
        INPUT.set(input.to_vec());
        OUTPUT.set(None);
        ERROR.set(None);
    }

    /// Ends a call on this thread: returns what it passed to `output` and `error`, clears input.
    pub fn end_call() -> (Option<Vec<u8>>, Option<String>) {
        INPUT.set(Vec::new());
        (OUTPUT.take(), ERROR.take())
    }
}

pub use imp::*;

/// The WASI reactor entry point: runs the module's static constructors once, before any task.
///
/// A Rust `cdylib` for `wasm32-wasip1` does not get one from the toolchain (only the unstable
/// `-Z wasi-exec-model=reactor` links wasi-libc's `crt1-reactor.o`), in which case the linker
/// instead runs the constructors at the start of every exported function. Defining it here, as
/// `crt1-reactor.o` does, makes every guest a proper reactor: the host calls `_initialize` once
/// after instantiation (ABI v1) and task calls carry no per-call constructor overhead.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[unsafe(export_name = "_initialize")]
extern "C" fn initialize() {
    use std::sync::atomic::{AtomicBool, Ordering};

    unsafe extern "C" {
        /// Synthesised by the linker: calls every static constructor.
        fn __wasm_call_ctors();
    }
    static INITIALIZED: AtomicBool = AtomicBool::new(false);
    if !INITIALIZED.swap(true, Ordering::Relaxed) {
        // SAFETY: runs the constructors exactly once, before anything else uses the runtime.
        unsafe { __wasm_call_ctors() };
    }
}
