//! Where results go: standard output, or a file that is written under a
//! temporary name and renamed into place only once the run succeeded, so a
//! failed run never leaves a partial file (nor destroys an old one).

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::CliError;

/// What the buffer writes to.
enum Target {
    Stdout(std::io::Stdout),
    /// A temporary file, renamed to `path` once the run succeeded.
    File {
        file: tempfile::NamedTempFile,
        path: PathBuf,
    },
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            // Straight to the descriptor: std's stdout is line-buffered, and
            // would scan each of `--map`'s megabytes for a newline only to
            // pass them on (our own buffer is in front of it).
            Target::Stdout(out) => Ok(rustix::io::write(out.as_fd(), buf)?),
            Target::File { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Target::Stdout(_) => Ok(()),
            Target::File { file, .. } => file.flush(),
        }
    }
}

/// The results' destination. The buffer's type is concrete, so that writing a
/// tiny result is an inlined copy; only a full buffer goes to the target.
pub(super) struct Output {
    out: BufWriter<Target>,
}

impl Output {
    pub fn open(path: Option<&Path>) -> Result<Output, CliError> {
        let Some(path) = path else {
            return Ok(Output { out: BufWriter::with_capacity(1 << 16, Target::Stdout(std::io::stdout())) });
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file = tempfile::Builder::new()
            .prefix(".rpool-wasm-output")
            .tempfile_in(dir)
            .map_err(|e| CliError::Output(format!("{}: cannot create the output file: {e}", path.display())))?;
        let target = Target::File { file, path: path.to_path_buf() };
        Ok(Output { out: BufWriter::with_capacity(1 << 16, target) })
    }

    fn error(&self, e: std::io::Error) -> CliError {
        match self.out.get_ref() {
            Target::Stdout(_) if e.kind() == std::io::ErrorKind::BrokenPipe => CliError::StdoutClosed,
            Target::Stdout(_) => CliError::Output(format!("cannot write to standard output: {e}")),
            Target::File { path, .. } => CliError::Output(format!("{}: cannot write: {e}", path.display())),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.out.write_all(bytes).map_err(|e| self.error(e))
    }

    /// Pushes out what was written so far (for line-by-line modes).
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(|e| self.error(e))
    }

    /// Finishes: flushes standard output, or renames the file into place.
    pub fn commit(mut self) -> Result<(), CliError> {
        self.flush()?;
        let path = match self.out.get_ref() {
            Target::Stdout(_) => return Ok(()),
            Target::File { path, .. } => path.clone(),
        };
        let target = self
            .out
            .into_inner()
            .map_err(|e| CliError::Output(format!("{}: cannot write: {}", path.display(), e.error())))?;
        if let Target::File { file, path } = target {
            file.persist(&path)
                .map_err(|e| CliError::Output(format!("{}: cannot rename into place: {}", path.display(), e.error)))?;
        }
        Ok(())
    }
}

/// Writes one line of a line-by-line mode. The caller flushes whenever no
/// further result is ready, so that pipelines see each result as soon as
/// it is, and a burst of results goes out in one write.
pub(super) fn line(out: &mut Output, json: &[u8]) -> Result<(), CliError> {
    out.write(json)?;
    out.write(b"\n")
}

/// `{"index": i, "result": r}`, the line of `--imap-unordered`.
pub(super) fn indexed_line(out: &mut Output, index: usize, result: &[u8]) -> Result<(), CliError> {
    out.write(b"{\"index\":")?;
    out.write(itoa::Buffer::new().format(index).as_bytes())?;
    out.write(b",\"result\":")?;
    out.write(result)?;
    out.write(b"}\n")
}

/// A failed item's line with --keep-going: `{"index": i, "error": "…"}`.
pub(super) fn error_line(index: usize, error: &str) -> String {
    serde_json::json!({ "index": index, "error": error }).to_string()
}
