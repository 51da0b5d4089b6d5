//! What travels through the broker, and under which names: a job's streams,
//! subjects and keys (all derived from its name), its settings (the
//! [`JobSpec`] in the jobs bucket), a chunk message (the call it belongs
//! to, then the chunk frame a local worker reads, unchanged) and a results
//! message (the call, then each outcome: index, kind, payload).
//!
//! Everything here is plain bytes and `std`: the async code is in
//! `client.rs` and `node.rs`.

use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::module::ModuleMode;
use crate::wasm::limits::Limits;
use crate::wasm::sandbox::DirGrant;

/// The version of the job settings and messages below. A node refuses a
/// job of another version rather than misread it.
pub(crate) const CLUSTER_PROTOCOL: u32 = 1;

/// The key-value bucket of jobs: `JOB` holds a job's [`JobSpec`]; `JOB.node.NODE`
/// what node `NODE` made of it ([`NodeState`]).
pub(crate) const JOBS_BUCKET: &str = "rpool_jobs";
/// The object store of task modules, each named by its SHA-256 (hex).
pub(crate) const MODULES_BUCKET: &str = "rpool_modules";
/// The durable pull consumer every node takes a job's chunks from.
pub(crate) const NODES_CONSUMER: &str = "nodes";
/// A chunk message's header: how many times nodes were lost running the
/// chunk before it was handed back (a drained node republishes what it
/// held, which resets the broker's delivery count).
pub(crate) const LOST_HEADER: &str = "Rpool-Lost";

/// The names of one job's streams and subjects.
#[derive(Debug, Clone)]
pub(crate) struct JobNames {
    pub job: String,
    pub work_stream: String,
    pub work_subject: String,
    pub results_stream: String,
    pub results_subject: String,
}

impl JobNames {
    /// The names for job `job` (checked by [`check_job_name`]).
    pub fn new(job: &str) -> JobNames {
        JobNames {
            job: job.to_string(),
            work_stream: format!("RPOOL_{job}_WORK"),
            work_subject: format!("rpool.{job}.work"),
            results_stream: format!("RPOOL_{job}_RESULTS"),
            results_subject: format!("rpool.{job}.results"),
        }
    }

    /// The key under which node `node` reports on this job.
    pub fn node_key(&self, node: &str) -> String {
        format!("{}.node.{node}", self.job)
    }

    /// The keys of every node's report on this job.
    pub fn node_keys(&self) -> String {
        format!("{}.node.*", self.job)
    }
}

/// A job name is a stream name's part and a subject's token: letters,
/// digits, `-` and `_`, at most 64 of them.
pub(crate) fn check_job_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a job name has 1 to 64 characters".into());
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        Some(c) => Err(format!("a job name has only letters, digits, `-` and `_`, not {c:?}")),
        None => Ok(()),
    }
}

/// A node's name as a key token: what [`check_job_name`] allows, the rest as `_`.
pub(crate) fn key_token(name: &str) -> String {
    let token: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect();
    if token.is_empty() { "node".into() } else { token }
}

/// A job's settings, as the client publishes them and every node builds
/// its local pool from: what a local pool's workers get in their start
/// frame, and the pool's own policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct JobSpec {
    pub protocol: u32,
    /// The module's SHA-256 (hex): its name in the modules bucket.
    pub module_sha256: String,
    /// The module's file name on the client, for messages.
    pub module_name: String,
    pub mode: ModuleMode,
    pub env: Vec<(String, String)>,
    pub initializer: Option<(String, String)>,
    pub limits: Limits,
    /// Directories on the node, as the job names them.
    pub dirs: Vec<DirGrant>,
    pub raw_output: bool,
    /// A WASI command's arguments after its name, and whether its stdin is the item's text.
    pub command_args: Vec<String>,
    pub raw_input: bool,
    pub full_backtraces: bool,
    pub max_tasks: Option<usize>,
    pub retries: u32,
    /// How long a node may hold a chunk without a word before it is given to another.
    pub ack_wait_ms: u64,
}

/// What a node made of a job, under `JOB.node.NODE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum NodeState {
    /// Its local pool is up: it takes the job's chunks.
    Joined { workers: usize },
    /// It will not run the job (a directory it does not grant, another protocol).
    Refused { message: String },
    /// Its local pool could not start: a worker failed to start (the initializer).
    WorkerStart { worker: usize, message: String },
    /// Its local pool could not start for another reason.
    Failed { message: String },
}

/// A chunk message: the call's number in its pool (little-endian `u64`),
/// then the chunk frame as the wire has it (length first).
pub(crate) fn chunk_message(call: u64, frame: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(8 + frame.len());
    message.extend_from_slice(&call.to_le_bytes());
    message.extend_from_slice(frame);
    message
}

/// The call and the frame of a chunk message.
pub(crate) fn split_chunk_message(message: &[u8]) -> Option<(u64, &[u8])> {
    let (call, frame) = message.split_first_chunk::<8>()?;
    let len = u32::from_le_bytes(*frame.first_chunk::<4>()?) as usize;
    (frame.len() == len + 4).then_some((u64::from_le_bytes(*call), frame))
}

/// How an item ended, as a results message carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Ok = 0,
    Failed = 1,
    /// The payload is the description, then a NUL and where it trapped.
    Trap = 2,
    InvalidOutput = 3,
    /// The payload is the worker's index (`u32`), then how it died.
    WorkerLost = 4,
    /// The payload is how many nodes were lost running it (`u32`).
    NodeLost = 5,
    Arguments = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Ok,
            1 => Kind::Failed,
            2 => Kind::Trap,
            3 => Kind::InvalidOutput,
            4 => Kind::WorkerLost,
            5 => Kind::NodeLost,
            6 => Kind::Arguments,
            _ => return None,
        })
    }
}

/// Builds a results message outcome by outcome.
#[derive(Debug)]
pub(crate) struct ResultsEncoder {
    buf: Vec<u8>,
    count: usize,
}

impl ResultsEncoder {
    pub fn new(call: u64) -> ResultsEncoder {
        ResultsEncoder { buf: call.to_le_bytes().to_vec(), count: 0 }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Appends an outcome as a local pool delivered it. `NotRun` has no
    /// record: an item that did not run here is not answered (the chunk is
    /// not acked and runs elsewhere), so it returns false.
    pub fn push(&mut self, index: usize, outcome: &Result<&[u8], TaskError>) -> bool {
        let lost: [u8; 4];
        let (kind, head, payload): (Kind, &[u8], &[u8]) = match outcome {
            Ok(json) => (Kind::Ok, &[], json),
            Err(TaskError::Failed { message, .. }) => (Kind::Failed, &[], message.as_bytes()),
            Err(TaskError::Trap { message, location, .. }) => {
                self.record(index, Kind::Trap, message.as_bytes(), location.as_deref().map(str::as_bytes));
                return true;
            }
            Err(TaskError::InvalidOutput { message, .. }) => (Kind::InvalidOutput, &[], message.as_bytes()),
            Err(TaskError::Arguments { message, .. }) => (Kind::Arguments, &[], message.as_bytes()),
            Err(TaskError::Decode { message, .. }) => (Kind::Failed, &[], message.as_bytes()),
            Err(TaskError::WorkerLost { worker, status, .. }) => {
                lost = (*worker as u32).to_le_bytes();
                (Kind::WorkerLost, &lost[..], status.as_bytes())
            }
            Err(TaskError::NodeLost { lost: times, .. }) => {
                lost = times.to_le_bytes();
                (Kind::NodeLost, &lost[..], &[])
            }
            Err(TaskError::NotRun { .. }) => return false,
        };
        let mut whole = Vec::with_capacity(head.len() + payload.len());
        whole.extend_from_slice(head);
        whole.extend_from_slice(payload);
        self.record(index, kind, &whole, None);
        true
    }

    fn record(&mut self, index: usize, kind: Kind, payload: &[u8], location: Option<&[u8]>) {
        let len = payload.len() + location.map_or(0, |l| l.len() + 1);
        self.buf.extend_from_slice(&(index as u64).to_le_bytes());
        self.buf.push(kind as u8);
        self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        self.buf.extend_from_slice(payload);
        if let Some(location) = location {
            self.buf.push(0);
            self.buf.extend_from_slice(location);
        }
        self.count += 1;
    }

    /// The message; the encoder starts again, empty, for the same call.
    pub fn take(&mut self) -> Vec<u8> {
        let call = self.buf[..8].to_vec();
        self.count = 0;
        std::mem::replace(&mut self.buf, call)
    }
}

/// One outcome of a results message, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub index: usize,
    pub kind: Kind,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// The outcome, with the export's name that errors carry.
    pub fn outcome(&self, func: &str) -> Result<&[u8], TaskError> {
        let (index, func) = (self.index, func.to_string());
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        Err(match self.kind {
            Kind::Ok => return Ok(self.payload),
            Kind::Failed => TaskError::Failed { index, func, message: text(self.payload) },
            Kind::Trap => {
                let (message, location) = crate::wire::split_trap(self.payload);
                TaskError::Trap { index, func, message: text(message), location: location.map(text) }
            }
            Kind::InvalidOutput => TaskError::InvalidOutput { index, func, message: text(self.payload) },
            Kind::Arguments => TaskError::Arguments { index, func, message: text(self.payload) },
            Kind::WorkerLost => {
                let (worker, status) = self.payload.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
                TaskError::WorkerLost {
                    index,
                    func,
                    worker: u32::from_le_bytes(*worker) as usize,
                    status: text(status),
                }
            }
            Kind::NodeLost => {
                let lost = self.payload.first_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b));
                TaskError::NodeLost { index, func, lost }
            }
        })
    }
}

/// The call of a results message and its outcomes; `None` if it is malformed.
pub(crate) fn decode_results(message: &[u8]) -> Option<(u64, Vec<Record<'_>>)> {
    let (call, mut rest) = message.split_first_chunk::<8>()?;
    let mut records = Vec::new();
    while !rest.is_empty() {
        let (index, r) = rest.split_first_chunk::<8>()?;
        let (&kind, r) = r.split_first()?;
        let (len, r) = r.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let (payload, r) = r.split_at_checked(len)?;
        records.push(Record { index: u64::from_le_bytes(*index) as usize, kind: Kind::from_u8(kind)?, payload });
        rest = r;
    }
    Some((u64::from_le_bytes(*call), records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names() {
        assert!(check_job_name("nightly-2024_01").is_ok());
        assert!(check_job_name("").is_err());
        assert!(check_job_name("a.b").unwrap_err().contains("'.'"));
        assert!(check_job_name(&"x".repeat(65)).is_err());
        assert_eq!(key_token("host.example:1"), "host_example_1");
        let names = JobNames::new("j1");
        assert_eq!(names.work_subject, "rpool.j1.work");
        assert_eq!(names.node_key("n"), "j1.node.n");
    }

    #[test]
    fn chunk_messages_roundtrip() {
        let frame = [5u8, 0, 0, 0, 2, 1, 2, 3, 4];
        let message = chunk_message(7, &frame);
        assert_eq!(split_chunk_message(&message), Some((7, &frame[..])));
        assert_eq!(split_chunk_message(&message[..message.len() - 1]), None);
    }

    #[test]
    fn every_outcome_roundtrips() {
        let f = || "f".to_string();
        let outcomes: Vec<Result<&[u8], TaskError>> = vec![
            Ok(b"[1,2]"),
            Err(TaskError::Failed { index: 1, func: f(), message: "no".into() }),
            Err(TaskError::Trap { index: 2, func: f(), message: "unreachable".into(), location: Some(" at g".into()) }),
            Err(TaskError::Trap { index: 3, func: f(), message: "oops".into(), location: None }),
            Err(TaskError::InvalidOutput { index: 4, func: f(), message: "bad".into() }),
            Err(TaskError::WorkerLost { index: 5, func: f(), worker: 3, status: "was killed".into() }),
            Err(TaskError::NodeLost { index: 6, func: f(), lost: 2 }),
            Err(TaskError::Arguments { index: 7, func: f(), message: "not an array".into() }),
        ];
        let mut encoder = ResultsEncoder::new(9);
        for (index, outcome) in outcomes.iter().enumerate() {
            assert!(encoder.push(index, outcome));
        }
        assert!(!encoder.push(8, &Err(TaskError::NotRun { index: 8, func: f(), reason: "stop".into() })));
        assert_eq!(encoder.len(), outcomes.len());
        let message = encoder.take();
        assert_eq!(encoder.len(), 0);
        let (call, records) = decode_results(&message).unwrap();
        assert_eq!(call, 9);
        let decoded: Vec<_> = records.iter().map(|r| r.outcome("f")).collect();
        assert_eq!(decoded, outcomes);
        assert!(decode_results(&message[..message.len() - 1]).is_none());
    }
}
