//! Worker processes forked from the pool's own process, before it has
//! started a thread ([`PoolBuilder::fork_workers`](crate::PoolBuilder::fork_workers)).
//!
//! A spawned worker is a new program: `exec`, the dynamic loader, the C and
//! Rust runtimes, the page faults of a large binary, about a millisecond of
//! CPU each before it reads its start frame, on the critical path of a short
//! run. A forked one is a copy of a process that has done all that already.
//! `fork` is only safe while the process has a single thread (a lock another
//! thread holds would stay locked in the copy forever), so nothing is forked
//! otherwise and the pool spawns its workers as usual.
//!
//! The child keeps nothing of its parent's open files but the three pipes,
//! which become its stdin, stdout and stderr: above all it must not hold our
//! end of another worker's stdin, which would keep that worker from ever
//! seeing the end of its input.
//!
//! When the cache has the module compiled, it is loaded before the fork
//! ([`Warm`]): each forked worker then inherits the engine and the module,
//! mapped and linked, and only instantiates it, and the pool's build takes
//! the parent's copy instead of loading the module again. The module holds
//! descriptors of its own (the artifact it maps each instance's memory
//! from), which the child keeps beside its pipes.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use super::slot::WorkerChild;
use crate::module::warm::{Warm, WarmWorker};

/// Workers forked for a pool builder, until its pool takes them; those it
/// does not take are killed and reaped. With them, the module they inherited
/// loaded, if it was.
pub(crate) struct Forked {
    children: Mutex<Vec<WorkerChild>>,
    warm: Mutex<Option<Warm>>,
}

impl Forked {
    /// Forks up to `count` workers; none if this process has more than one
    /// thread, fewer if a fork fails (the pool spawns the rest). `load`
    /// loads the module first, if it can ([`Warm::load`]), for the workers
    /// to inherit.
    pub(crate) fn fork(count: usize, load: impl FnOnce() -> Option<Warm>) -> Forked {
        let mut children = Vec::new();
        let mut warm = None;
        if single_threaded() {
            let before = open_fds();
            warm = load();
            // What the module holds open (its artifact, from which each
            // instance maps its memory's initial image; or the memfd made
            // for that image) is the descriptors the load opened and kept:
            // the children keep them too. Unknown, they inherit nothing.
            let inherited = warm.as_ref().and_then(Warm::for_worker).and_then(|worker| {
                let (before, after) = (before?, open_fds()?);
                Some((worker, after.into_iter().filter(|fd| !before.contains(fd)).collect()))
            });
            // Loading only maps what the cache has (nothing that starts a
            // thread), but a fork must be sure of it.
            if single_threaded() {
                while children.len() < count {
                    match fork_one(&inherited) {
                        Ok(child) => children.push(child),
                        Err(_) => break,
                    }
                }
            }
        }
        Forked { children: Mutex::new(children), warm: Mutex::new(warm) }
    }

    /// Takes the next forked worker, if one is left.
    pub(crate) fn take(&self) -> Option<WorkerChild> {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        (!children.is_empty()).then(|| children.remove(0))
    }

    /// Takes the module loaded before the fork, if it was.
    pub(crate) fn take_warm(&self) -> Option<Warm> {
        self.warm.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// How many forked workers are left to take.
    pub(crate) fn len(&self) -> usize {
        self.children.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl std::fmt::Debug for Forked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Forked({} workers)", self.len())
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        for mut child in self.children.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether this process runs one thread only (Linux's `/proc/self/task`
/// lists them; elsewhere, or unreadable, the answer is no).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.count() == 1)
}

/// A pipe, both ends closed on exec (so that no worker spawned later holds
/// them).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `pipe2` writes two new descriptors into `fds`, which we own.
    match unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } {
        0 => Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// The module a forked worker inherits, and the descriptors it holds.
type Inherited = Option<(WarmWorker, Vec<i32>)>;

fn fork_one(inherited: &Inherited) -> std::io::Result<WorkerChild> {
    let (stdin_read, stdin_write) = pipe()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    // SAFETY: this process has one thread (checked by the caller), so the
    // child is a whole copy of it, with no lock held by a thread it lacks.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => become_worker([&stdin_read, &stdout_write, &stderr_write], inherited),
        pid => Ok(WorkerChild::forked(pid, File::from(stdin_write), File::from(stdout_read), File::from(stderr_read))),
    }
}

/// In the child: the pipes become its stdin, stdout and stderr, every other
/// descriptor is closed (but those of the module its parent loaded, if it
/// did), and it serves as a worker until its input ends, with that module.
fn become_worker(pipes: [&OwnedFd; 3], inherited: &Inherited) -> ! {
    for (target, fd) in pipes.iter().enumerate() {
        // SAFETY: descriptor calls on descriptors this process owns. The
        // pipes' descriptors are all above 2 (a Rust program starts with 0,
        // 1 and 2 open), so no `dup2` overwrites a pipe not yet moved.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(127) };
        }
    }
    let (warm, kept) = match inherited {
        Some((warm, fds)) => (Some(warm.clone()), fds.as_slice()),
        None => (None, &[][..]),
    };
    close_from(3, kept);
    reset_signals();
    crate::worker::serve_forked(warm)
}

/// The signals whose handlers a forked worker keeps: SIGSEGV and SIGBUS
/// carry Rust's stack-overflow handler (which a spawned worker installs again
/// at its start), and these and SIGILL and SIGFPE wasmtime's trap handlers,
/// installed once per process by an engine the parent made before the fork
/// (a wasm trap is one of these signals).
const KEPT_SIGNALS: [i32; 6] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGKILL, libc::SIGSTOP];

/// What `exec` would have done to the other signals: handlers back to the
/// default (the parent's would run the parent's code in the child), an empty
/// mask.
fn reset_signals() {
    for signal in 1..32 {
        if KEPT_SIGNALS.contains(&signal) {
            continue;
        }
        // SAFETY: reads and sets dispositions through properly initialised
        // `sigaction` structures; the child has one thread.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction != libc::SIG_DFL
                && current.sa_sigaction != libc::SIG_IGN
            {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
    // SAFETY: an empty set, then that set as the mask.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// Closes every descriptor from `first` up but those in `kept`:
/// `close_range` where the kernel has it (Linux 5.9), else each one
/// `/proc/self/fd` lists.
fn close_from(first: i32, kept: &[i32]) {
    let mut kept: Vec<i32> = kept.iter().copied().filter(|&fd| fd >= first).collect();
    kept.sort_unstable();
    let mut low = first;
    let mut ranges = Vec::with_capacity(kept.len() + 1);
    for &fd in &kept {
        if fd > low {
            ranges.push((low, fd - 1));
        }
        low = fd + 1;
    }
    ranges.push((low, i32::MAX));
    // SAFETY: closes descriptors of this process; nothing in the child uses
    // them (they are its parent's).
    let closed = |&(low, high): &(i32, i32)| unsafe {
        libc::syscall(libc::SYS_close_range, low as libc::c_uint, high as libc::c_uint, 0) == 0
    };
    if ranges.iter().all(closed) {
        return;
    }
    let open = open_fds().unwrap_or_else(|| (first..1024).collect());
    for fd in open.into_iter().filter(|fd| *fd >= first && !kept.contains(fd)) {
        // SAFETY: as above.
        unsafe { libc::close(fd) };
    }
}

/// This process's open descriptors (`/proc/self/fd`), if it can tell.
fn open_fds() -> Option<Vec<i32>> {
    let listed: Vec<i32> =
        std::fs::read_dir("/proc/self/fd").ok()?.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    // The listing's own descriptor, closed by now, is not one of them.
    // SAFETY: `F_GETFD` only asks whether the descriptor is open.
    Some(listed.into_iter().filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1).collect())
}
