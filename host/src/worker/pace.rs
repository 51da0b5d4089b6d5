//! How a worker runs a chunk whose task takes chunk calls (`docs/abi.md`,
//! "Chunk calls"; a component's `call-chunk`): in groups of items, each one
//! call, sized so that a group takes about [`GROUP_SPAN`]. Tiny items then
//! cost one wasm call per few thousand instead of one each; slow items still
//! go one by one, so that each result leaves as soon as it is ready (a chunk
//! of 200 ms items does not hold its first result for a second).

use std::io::Write;
use std::time::{Duration, Instant};

use super::abi::{ExportId, Outcome};
use super::io_err;
use crate::wire::{self, ChunkView};

/// A runner whose task can take a group of items in one call: an ABI v1
/// instance with an `rpool:chunk:` export, or a component's `call-chunk`.
pub(super) trait GroupCalls {
    /// Runs one item alone.
    fn call(&mut self, export: ExportId, args: &[u8]) -> Result<Outcome<'_>, String>;

    /// Runs `group` (each item's index and argument array; `raw` is the
    /// same items as the chunk frame holds them, end to end) in one call,
    /// writing each item's result frame to `output`. `Ok(false)`: nothing
    /// was written and the items must run one by one (the group call
    /// trapped, or could not give each item its own outcome).
    fn call_group(
        &mut self,
        export: ExportId,
        group: &[(u64, &[u8])],
        raw: &[u8],
        output: &mut impl Write,
    ) -> Result<bool, String>;
}

/// About how long one group of items may run before its results go out.
const GROUP_SPAN: Duration = Duration::from_millis(2);

/// The measured time per item of each export (by [`ExportId`]).
#[derive(Default)]
pub(super) struct Pace {
    per_item: Vec<Option<Duration>>,
}

impl Pace {
    /// How many items of `export` to run in one call: 1 until its items
    /// are measured, then as many as fit in [`GROUP_SPAN`].
    fn group(&self, export: ExportId) -> usize {
        match self.per_item.get(export.0).copied().flatten() {
            None => 1,
            Some(per_item) => (GROUP_SPAN.as_nanos() / per_item.as_nanos().max(1)) as usize,
        }
    }

    /// `items` items of `export` took `took`.
    fn record(&mut self, export: ExportId, items: usize, took: Duration) {
        if self.per_item.len() <= export.0 {
            self.per_item.resize(export.0 + 1, None);
        }
        let measured = took / items.max(1) as u32;
        let slot = &mut self.per_item[export.0];
        *slot = Some(match *slot {
            None => measured,
            Some(before) => (before * 3 + measured) / 4,
        });
    }
}

/// Runs `chunk`'s items of `export` in groups of chunk calls (falling back
/// to one call per item for a group whose chunk call failed), writing each
/// result frame, and flushing whenever a group's results have waited long
/// enough. `Err`: the worker cannot go on.
pub(super) fn run_in_groups(
    instance: &mut impl GroupCalls,
    export: ExportId,
    chunk: &ChunkView<'_>,
    pace: &mut Pace,
    output: &mut impl Write,
) -> Result<(), String> {
    let raw = chunk.raw_items();
    let mut items = chunk.items();
    let mut group: Vec<(u64, &[u8])> = Vec::new();
    // Where the next group starts in `raw`.
    let mut start = 0;
    let mut last_flush = Instant::now();
    loop {
        let size = pace.group(export).max(1);
        group.clear();
        for item in items.by_ref().take(size) {
            group.push(item.map_err(|e| format!("protocol error: {e}"))?);
        }
        let Some(&(_, last)) = group.last() else { return Ok(()) };
        let end = last.as_ptr() as usize + last.len() - raw.as_ptr() as usize;
        let started = Instant::now();
        let grouped = group.len() > 1 && instance.call_group(export, &group, &raw[start..end], output)?;
        if !grouped {
            for &(index, args) in &group {
                let outcome = instance.call(export, args)?;
                wire::write_result(output, index, outcome.status, &outcome.payload).map_err(io_err)?;
            }
        }
        let now = Instant::now();
        pace.record(export, group.len(), now - started);
        start = end;
        if now - last_flush >= GROUP_SPAN {
            output.flush().map_err(io_err)?;
            last_flush = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_fit_the_span_once_measured() {
        let mut pace = Pace::default();
        let export = ExportId(1);
        assert_eq!(pace.group(export), 1, "unmeasured: one by one");
        pace.record(export, 1000, Duration::from_micros(200));
        assert_eq!(pace.group(export), 10_000, "0.2 µs items: 10,000 to a 2 ms group");
        let mut slow = Pace::default();
        slow.record(export, 1, Duration::from_millis(200));
        assert_eq!(slow.group(export), 0, "slow items: one by one");
    }
}
