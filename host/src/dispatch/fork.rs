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

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use super::slot::WorkerChild;

/// Workers forked for a pool builder, until its pool takes them; those it
/// does not take are killed and reaped.
pub(crate) struct Forked(Mutex<Vec<WorkerChild>>);

impl Forked {
    /// Forks up to `count` workers; none if this process has more than one
    /// thread, fewer if a fork fails (the pool spawns the rest).
    pub(crate) fn fork(count: usize) -> Forked {
        let mut children = Vec::new();
        if single_threaded() {
            while children.len() < count {
                match fork_one() {
                    Ok(child) => children.push(child),
                    Err(_) => break,
                }
            }
        }
        Forked(Mutex::new(children))
    }

    /// Takes the next forked worker, if one is left.
    pub(crate) fn take(&self) -> Option<WorkerChild> {
        let mut children = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (!children.is_empty()).then(|| children.remove(0))
    }

    /// How many forked workers are left to take.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl std::fmt::Debug for Forked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Forked({} workers)", self.len())
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        for mut child in self.0.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
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

fn fork_one() -> std::io::Result<WorkerChild> {
    let (stdin_read, stdin_write) = pipe()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    // SAFETY: this process has one thread (checked by the caller), so the
    // child is a whole copy of it, with no lock held by a thread it lacks.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => become_worker([&stdin_read, &stdout_write, &stderr_write]),
        pid => Ok(WorkerChild::forked(pid, File::from(stdin_write), File::from(stdout_read), File::from(stderr_read))),
    }
}

/// In the child: the pipes become its stdin, stdout and stderr, every other
/// descriptor is closed, and it serves as a worker until its input ends.
fn become_worker(pipes: [&OwnedFd; 3]) -> ! {
    for (target, fd) in pipes.iter().enumerate() {
        // SAFETY: descriptor calls on descriptors this process owns. The
        // pipes' descriptors are all above 2 (a Rust program starts with 0,
        // 1 and 2 open), so no `dup2` overwrites a pipe not yet moved.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(127) };
        }
    }
    close_from(3);
    reset_signals();
    crate::worker::serve_forked()
}

/// What `exec` would have done to the signals: handlers back to the
/// default (the parent's would run the parent's code in the child), an empty
/// mask. SIGSEGV and SIGBUS keep Rust's stack-overflow handler, which a
/// spawned worker installs again at its start.
fn reset_signals() {
    for signal in 1..32 {
        if signal == libc::SIGSEGV || signal == libc::SIGBUS || signal == libc::SIGKILL || signal == libc::SIGSTOP {
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

/// Closes every descriptor from `first` up: `close_range` where the kernel
/// has it (Linux 5.9), else each one `/proc/self/fd` lists.
fn close_from(first: i32) {
    // SAFETY: closes descriptors of this process; nothing in the child uses
    // them (they are its parent's).
    if unsafe { libc::syscall(libc::SYS_close_range, first as libc::c_uint, libc::c_uint::MAX, 0) } == 0 {
        return;
    }
    let open: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(entries) => entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect(),
        Err(_) => (first..1024).collect(),
    };
    for fd in open.into_iter().filter(|&fd| fd >= first) {
        // SAFETY: as above.
        unsafe { libc::close(fd) };
    }
}
