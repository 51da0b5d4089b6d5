//! A worker process as its slot holds it: spawned as a program of its own
//! (`PROGRAM __rpool-worker`), or forked from this one before it started a
//! thread ([`crate::dispatch::fork`]). Either way it is our child, with its
//! stdin, stdout and stderr piped to us; the slot writes chunks, reads
//! results, kills and reaps it the same way.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::wire::WORKER_ARG;

pub(crate) struct WorkerChild {
    kind: Kind,
    /// Our ends of its pipes, until the slot takes them.
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

enum Kind {
    Spawned(Child),
    /// A forked child, by pid; its status once reaped (so that a later
    /// `kill` never signals a pid the system may have given to another
    /// process).
    Forked {
        pid: libc::pid_t,
        status: Option<ExitStatus>,
    },
}

impl WorkerChild {
    /// Spawns the worker program: it waits on its stdin for the start frame.
    pub(crate) fn spawn(program: &Path) -> std::io::Result<WorkerChild> {
        let mut child = Command::new(program)
            .arg(WORKER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().map(|pipe| File::from(OwnedFd::from(pipe)));
        let stdout = child.stdout.take().map(|pipe| File::from(OwnedFd::from(pipe)));
        let stderr = child.stderr.take().map(|pipe| File::from(OwnedFd::from(pipe)));
        Ok(WorkerChild { kind: Kind::Spawned(child), stdin, stdout, stderr })
    }

    /// A child forked as `pid`, with our ends of its pipes.
    pub(crate) fn forked(pid: libc::pid_t, stdin: File, stdout: File, stderr: File) -> WorkerChild {
        WorkerChild {
            kind: Kind::Forked { pid, status: None },
            stdin: Some(stdin),
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    pub(crate) fn id(&self) -> u32 {
        match &self.kind {
            Kind::Spawned(child) => child.id(),
            Kind::Forked { pid, .. } => *pid as u32,
        }
    }

    /// Kills it (SIGKILL); nothing once it has been reaped.
    pub(crate) fn kill(&mut self) -> std::io::Result<()> {
        match &mut self.kind {
            Kind::Spawned(child) => child.kill(),
            Kind::Forked { status: Some(_), .. } => Ok(()),
            Kind::Forked { pid, status: None } => {
                // SAFETY: a plain system call on a pid we have not reaped,
                // so still ours.
                match unsafe { libc::kill(*pid, libc::SIGKILL) } {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            }
        }
    }

    /// Reaps it if it has exited; whether it had.
    pub(crate) fn try_wait(&mut self) -> bool {
        match &mut self.kind {
            Kind::Spawned(child) => !matches!(child.try_wait(), Ok(None)),
            Kind::Forked { status: Some(_), .. } => true,
            Kind::Forked { pid, status } => {
                let mut raw = 0;
                // SAFETY: polls our own child and writes its status to `raw`.
                match unsafe { libc::waitpid(*pid, &mut raw, libc::WNOHANG) } {
                    0 => false,
                    reaped if reaped == *pid => {
                        use std::os::unix::process::ExitStatusExt;
                        *status = Some(ExitStatus::from_raw(raw));
                        true
                    }
                    // Not ours to wait for any more (reaped elsewhere).
                    _ => true,
                }
            }
        }
    }

    /// Waits for it to exit and reaps it.
    pub(crate) fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match &mut self.kind {
            Kind::Spawned(child) => child.wait(),
            Kind::Forked { status: Some(status), .. } => Ok(*status),
            Kind::Forked { pid, status } => loop {
                let mut raw = 0;
                // SAFETY: waits for our own child and writes its status to `raw`.
                if unsafe { libc::waitpid(*pid, &mut raw, 0) } == *pid {
                    use std::os::unix::process::ExitStatusExt;
                    return Ok(*status.insert(ExitStatus::from_raw(raw)));
                }
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            },
        }
    }
}
