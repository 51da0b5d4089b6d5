//! What a run tells a person on stderr: a progress bar while it runs (on a
//! terminal, or with `--progress`), and a one-line summary at the end,
//! neither with `--quiet`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

pub(super) struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    started: Instant,
    done: usize,
    failed: usize,
}

impl Progress {
    /// `total` is the number of items when it is known.
    pub fn new(total: Option<usize>, quiet: bool, forced: bool) -> Progress {
        let show = !quiet && (forced || std::io::stderr().is_terminal());
        let bar = show.then(|| {
            // indicatif draws only on terminals; `--progress` means draw anyway.
            let target = if forced {
                ProgressDrawTarget::term_like_with_hz(Box::new(Stderr), 10)
            } else {
                ProgressDrawTarget::stderr_with_hz(10)
            };
            let (bar, template) = match total {
                Some(n) => (
                    ProgressBar::with_draw_target(Some(n as u64), target),
                    "{bar:30} {pos}/{len} items, {per_sec}, ETA {eta} {msg}",
                ),
                None => (ProgressBar::with_draw_target(None, target), "{spinner} {pos} items, {per_sec} {msg}"),
            };
            bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, quiet, started: Instant::now(), done: 0, failed: 0 }
    }

    /// One more item finished.
    pub fn item(&mut self, failed: bool) {
        self.done += 1;
        if failed {
            self.failed += 1;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if failed {
                bar.set_message(format!("({} failed)", self.failed));
            }
        }
    }

    /// Clears the bar and prints the summary.
    pub fn finish(&mut self, retried: usize, from_journal: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let elapsed = self.started.elapsed();
        let rate = self.done as f64 / elapsed.as_secs_f64().max(1e-9);
        let mut line = format!("rpool-wasm: {} items", self.done + from_journal);
        if from_journal > 0 {
            line += &format!(" ({from_journal} from the journal)");
        }
        line += &format!(
            ", {} failed, {retried} retried, in {:.2}s ({rate:.0} items/s)",
            self.failed,
            elapsed.as_secs_f64()
        );
        eprintln!("{line}");
    }
}

/// Standard error as a terminal for indicatif, whether it is one or not.
#[derive(Debug)]
struct Stderr;

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        write!(std::io::stderr(), "\x1b[{n}A")
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        write!(std::io::stderr(), "\x1b[{n}B")
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        write!(std::io::stderr(), "\x1b[{n}C")
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        write!(std::io::stderr(), "\x1b[{n}D")
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        writeln!(std::io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        write!(std::io::stderr(), "{s}")
    }
    fn clear_line(&self) -> std::io::Result<()> {
        write!(std::io::stderr(), "\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
