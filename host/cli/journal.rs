//! `--journal FILE`: every finished result is appended as it completes, so
//! that a run killed midway (a crash, Ctrl-C, a reboot) can be run again
//! with the same journal and compute only what is missing.
//!
//! The file is JSON Lines: a header naming the job, then
//! `{"index": i, "result": r}` per finished item. Each line reaches the
//! operating system as it is written (it survives the process being
//! killed) and the file is synced to disk at most 100 ms later (it
//! survives a machine crash but for those last results, which a re-run
//! computes again). Failed items are not recorded: a re-run tries them again.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::CliError;

const SYNC_EVERY: Duration = Duration::from_millis(100);

/// What a journal belongs to: re-running with another module, export or
/// mode would mix results that do not belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Job {
    #[serde(rename = "rpool-wasm-journal")]
    pub version: u32,
    pub module_sha256: String,
    pub func: String,
    pub mode: String,
}

#[derive(Deserialize)]
struct Entry {
    index: usize,
    result: Box<RawValue>,
}

pub(super) struct Journal {
    file: File,
    path: PathBuf,
    last_sync: Instant,
}

impl Journal {
    /// Opens (or creates) the journal for `job` and returns the results it
    /// already holds. A torn last line (the writer was killed mid-line) is
    /// cut off.
    pub fn open(path: &Path, job: &Job) -> Result<(Journal, HashMap<usize, Box<RawValue>>), CliError> {
        let shown = path.display();
        let err = |e: std::io::Error| CliError::Usage(format!("{shown}: cannot open the journal: {e}"));
        let mut file = File::options().read(true).append(true).create(true).open(path).map_err(err)?;
        let mut done = HashMap::new();
        let mut good_len = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(err)?;
            if read == 0 || !line.ends_with('\n') {
                break;
            }
            if first {
                let found: Job = serde_json::from_str(&line)
                    .map_err(|e| CliError::Usage(format!("{shown}: not an rpool-wasm journal: {e}")))?;
                if &found != job {
                    return Err(CliError::Usage(format!(
                        "{shown}: this journal belongs to another job (export `{}`, {} mode, module {}): use another file",
                        found.func,
                        found.mode,
                        &found.module_sha256[..12.min(found.module_sha256.len())]
                    )));
                }
                first = false;
            } else {
                let Ok(entry) = serde_json::from_str::<Entry>(&line) else { break };
                done.insert(entry.index, entry.result);
            }
            good_len += read as u64;
        }
        drop(reader);
        file.set_len(good_len).map_err(err)?;
        file.seek(std::io::SeekFrom::End(0)).map_err(err)?;
        let mut journal = Journal { file, path: path.to_path_buf(), last_sync: Instant::now() };
        if first {
            let mut header = serde_json::to_vec(job).expect("a job serializes");
            header.push(b'\n');
            journal.write(&header)?;
            journal.sync()?;
        }
        Ok((journal, done))
    }

    fn write(&mut self, line: &[u8]) -> Result<(), CliError> {
        self.file
            .write_all(line)
            .map_err(|e| CliError::Output(format!("{}: cannot write the journal: {e}", self.path.display())))
    }

    /// Appends one finished result.
    pub fn record(&mut self, index: usize, result: &[u8]) -> Result<(), CliError> {
        let mut line = Vec::with_capacity(result.len() + 32);
        line.extend_from_slice(format!("{{\"index\":{index},\"result\":").as_bytes());
        line.extend_from_slice(result);
        line.extend_from_slice(b"}\n");
        self.write(&line)?;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes what was written durable.
    pub fn sync(&mut self) -> Result<(), CliError> {
        self.last_sync = Instant::now();
        self.file
            .sync_data()
            .map_err(|e| CliError::Output(format!("{}: cannot sync the journal: {e}", self.path.display())))
    }
}
