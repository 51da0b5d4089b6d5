//! How the slots' first workers report their start to the pool's build.
//!
//! The build waits for the first worker to be ready, not for all of them: on
//! a short run the others' start-up (a millisecond or two each, on cores the
//! first worker and the parent share) would otherwise delay every item. A
//! failure reported before the first worker is ready (a module, initializer
//! or setting every worker would refuse alike) is the build's error; one
//! reported after the build returned stops the pool, as a replacement that
//! cannot start does: every item not yet answered fails as not run, naming it.

use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender};

use super::Startup;
use crate::dispatch::PoolState;
use crate::error::BuildError;

pub(crate) struct Startups {
    /// While the build waits: where reports go. Taken (under the lock, so
    /// that no report falls between) when the build returns.
    waiting: Mutex<Option<Sender<Startup>>>,
    reports: Receiver<Startup>,
}

impl Startups {
    pub(crate) fn new() -> Startups {
        let (waiting, reports) = crossbeam_channel::unbounded();
        Startups { waiting: Mutex::new(Some(waiting)), reports }
    }

    /// A slot's first worker started (`Ok`) or could not (`Err`).
    pub(crate) fn report(&self, started: Startup, state: &PoolState) {
        let waiting = super::lock(&self.waiting);
        match (&*waiting, started) {
            (Some(build), started) => {
                let _ = build.send(started);
            }
            (None, Err(error)) => state.stop(&error.to_string()),
            (None, Ok(())) => {}
        }
    }

    /// Waits for the first report: a worker ready, or one that failed
    /// first. Then the build no longer waits, and what was reported
    /// meanwhile is checked too.
    pub(crate) fn wait_first(&self) -> Result<(), BuildError> {
        let first = self.reports.recv().expect("the sender lives in `waiting` until this returns");
        super::lock(&self.waiting).take();
        first?;
        match self.reports.try_iter().find_map(Result::err) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
