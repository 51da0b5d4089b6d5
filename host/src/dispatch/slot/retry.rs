//! What happens to the item a worker was running when its process went
//! away: a pure decision, so that the table in `docs/reliability.md` is
//! a unit test. (Items the worker held but had not started always run
//! again, and a stopped pool fails everything as not run: the slot deals
//! with those before it asks.)

use std::time::Duration;

use crate::wasm::limits::format_duration;

/// How a worker process ended while it was running an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It died on its own or was killed from outside (SIGKILL, the OOM
    /// killer, a crash): `status` says how ("was killed by signal 9 (SIGKILL)").
    Died { status: String },
    /// It stopped answering for `waited` (twice the timeout and a second)
    /// and the slot killed it.
    Hung { waited: Duration },
}

/// The fate of the running item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Run it again on the replacement worker.
    RunAgain,
    /// Fail it with [`TaskError::WorkerLost`](crate::TaskError::WorkerLost),
    /// whose status is this.
    Fail(String),
}

/// Decides the running item's fate: `attempts` counts the workers that died
/// running it, this one included; `retries` is the pool's
/// [`retries`](crate::PoolBuilder::retries) setting.
///
/// A death unrelated to the item (an operator's kill, the OOM killer's
/// choice) should be a non-event, so the item runs again; a second death
/// is a sign the item itself kills workers, so it fails rather than
/// killing worker after worker. A hung worker's item always fails:
/// running it again would hang again.
pub(crate) fn decide(ending: &Ending, attempts: u32, retries: u32) -> Decision {
    match ending {
        Ending::Hung { waited } => {
            Decision::Fail(format!("stopped answering for {} and was killed", format_duration(*waited)))
        }
        Ending::Died { .. } if attempts <= retries => Decision::RunAgain,
        Ending::Died { status } => Decision::Fail(status.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn killed() -> Ending {
        Ending::Died { status: "was killed by signal 9 (SIGKILL)".into() }
    }

    /// The rows of "What is retried" in docs/reliability.md.
    #[test]
    fn the_reliability_table() {
        let fail = |status: &str| Decision::Fail(status.to_string());
        let hung = Ending::Hung { waited: Duration::from_secs(3) };
        let cases: &[(&str, Ending, u32, u32, Decision)] = &[
            ("first death, default retries", killed(), 1, 1, Decision::RunAgain),
            ("second death, default retries", killed(), 2, 1, fail("was killed by signal 9 (SIGKILL)")),
            ("no retries", killed(), 1, 0, fail("was killed by signal 9 (SIGKILL)")),
            ("three retries, third death", killed(), 3, 3, Decision::RunAgain),
            ("three retries, fourth death", killed(), 4, 3, fail("was killed by signal 9 (SIGKILL)")),
            ("an exit code", Ending::Died { status: "exited with code 1".into() }, 2, 1, fail("exited with code 1")),
            ("hung: never again", hung.clone(), 1, 5, fail("stopped answering for 3s and was killed")),
        ];
        for (what, ending, attempts, retries, expected) in cases {
            assert_eq!(&decide(ending, *attempts, *retries), expected, "{what}");
        }
    }
}
