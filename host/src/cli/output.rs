//! Where results go: standard output, or a file that is written under a
//! temporary name and renamed into place only once the run succeeded, so a
//! failed run never leaves a partial file (nor destroys an old one).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::CliError;

pub(super) enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File { file: BufWriter<tempfile::NamedTempFile>, path: PathBuf },
}

impl Output {
    pub fn open(path: Option<&Path>) -> Result<Output, CliError> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())));
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file = tempfile::Builder::new()
            .prefix(".rpool-wasm-output")
            .tempfile_in(dir)
            .map_err(|e| CliError::Output(format!("{}: cannot create the output file: {e}", path.display())))?;
        Ok(Output::File { file: BufWriter::with_capacity(1 << 16, file), path: path.to_path_buf() })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::Stdout(w) => w,
            Output::File { file, .. } => file,
        }
    }

    fn error(&self, e: std::io::Error) -> CliError {
        match self {
            Output::Stdout(_) if e.kind() == std::io::ErrorKind::BrokenPipe => CliError::StdoutClosed,
            Output::Stdout(_) => CliError::Output(format!("cannot write to standard output: {e}")),
            Output::File { path, .. } => CliError::Output(format!("{}: cannot write: {e}", path.display())),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.writer().write_all(bytes).map_err(|e| self.error(e))
    }

    /// Pushes out what was written so far (for line-by-line modes).
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.writer().flush().map_err(|e| self.error(e))
    }

    /// Finishes: flushes standard output, or renames the file into place.
    pub fn commit(mut self) -> Result<(), CliError> {
        self.flush()?;
        match self {
            Output::Stdout(_) => Ok(()),
            Output::File { file, path } => {
                let file = file
                    .into_inner()
                    .map_err(|e| CliError::Output(format!("{}: cannot write: {}", path.display(), e.error())))?;
                file.persist(&path).map_err(|e| {
                    CliError::Output(format!("{}: cannot rename into place: {}", path.display(), e.error))
                })?;
                Ok(())
            }
        }
    }
}
