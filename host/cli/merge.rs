//! `rpool-wasm merge PART…`: the parts that `run --shard I/N` wrote, put
//! back together into the output one run would have written. Every part
//! must be whole (its closing line), the shards `0..N` all there, and every
//! item of the input in exactly one part; anything else is an error that
//! names what is missing or doubled, and nothing is written.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::CliError;
use super::output::{Output, error_line, indexed_line, line};

#[derive(Debug, clap::Args)]
pub(super) struct MergeArgs {
    /// The parts, as `run --shard I/N -o PART` wrote them (each a JSON Lines file).
    #[arg(value_name = "PART", required = true)]
    pub parts: Vec<PathBuf>,

    /// Write the merged output to FILE (renamed into place only on success).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print what `run --map` prints: one JSON array, in input order [the default].
    #[arg(long, group = "format")]
    pub map: bool,

    /// Print what `run --imap` prints: one result per line, in input order.
    #[arg(long, group = "format")]
    pub imap: bool,

    /// Print `{"index": i, "result": r}` lines, as `run --imap-unordered` does (in input order).
    #[arg(long, group = "format")]
    pub imap_unordered: bool,
}

/// One line of a part: an item's result or error, or the closing line.
/// (One struct, not an untagged enum: serde cannot buffer a `RawValue`.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartLine {
    index: Option<usize>,
    result: Option<Box<RawValue>>,
    error: Option<String>,
    shard: Option<usize>,
    of: Option<usize>,
    items: Option<usize>,
}

/// An item's outcome, as a part recorded it.
enum Outcome {
    Result(Box<RawValue>),
    Error(String),
}

/// What a whole part says about the job: its shard, of how many, and the
/// input's number of items.
#[derive(Clone, Copy, PartialEq, Eq)]
struct End {
    shard: usize,
    of: usize,
    items: usize,
}

pub(super) fn merge(args: MergeArgs) -> Result<(), CliError> {
    let mut outcomes: Vec<Option<(Outcome, usize)>> = Vec::new();
    let mut ends: Vec<End> = Vec::new();
    for (part, path) in args.parts.iter().enumerate() {
        let end = read_part(path, part, &args.parts, &mut outcomes)?;
        if let Some(first) = ends.first()
            && (first.of, first.items) != (end.of, end.items)
        {
            return Err(CliError::Usage(format!(
                "{} is shard {} of {} with {} items, but {} is of {} with {} items: parts of different jobs",
                path.display(),
                end.shard,
                end.of,
                end.items,
                args.parts[0].display(),
                first.of,
                first.items
            )));
        }
        if let Some(twice) = ends.iter().position(|e| e.shard == end.shard) {
            return Err(CliError::Usage(format!(
                "shard {} is both {} and {}",
                end.shard,
                args.parts[twice].display(),
                path.display()
            )));
        }
        ends.push(end);
    }
    let End { of, items, .. } = ends[0];
    if outcomes.len() > items {
        return Err(CliError::Usage(format!("item {} is past the input's {items} items", outcomes.len() - 1)));
    }
    outcomes.resize_with(items, || None);
    let missing: Vec<usize> = (0..items).filter(|&i| outcomes[i].is_none()).collect();
    let missing_shards: Vec<usize> = (0..of).filter(|s| !ends.iter().any(|e| e.shard == *s)).collect();
    if !missing.is_empty() || !missing_shards.is_empty() {
        let items = match missing.len() {
            0 => String::new(),
            1 => format!("item {} is in no part", missing[0]),
            _ => format!("items {} are in no part", list(&missing)),
        };
        let shards = match missing_shards.len() {
            0 => String::new(),
            1 => format!("shard {} of {of} is missing", missing_shards[0]),
            _ => format!("shards {} of {of} are missing", list(&missing_shards)),
        };
        let both = if items.is_empty() || shards.is_empty() { "" } else { ": " };
        return Err(CliError::Usage(format!("{shards}{both}{items}")));
    }
    write(&args, outcomes.into_iter().map(|o| o.expect("every item is there").0))
}

/// Reads part number `part` into `outcomes`; returns its closing line.
fn read_part(
    path: &Path,
    part: usize,
    parts: &[PathBuf],
    outcomes: &mut Vec<Option<(Outcome, usize)>>,
) -> Result<End, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("{}: cannot read the part: {e}", path.display())))?;
    let mut end = None;
    for (n, text) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{}:{}", path.display(), n + 1);
        if end.is_some() {
            return Err(CliError::Usage(format!("{}: a line after the part's closing line", at())));
        }
        let not_a_part =
            || CliError::Usage(format!("{}: not a line of a shard's part (`run --shard I/N` writes them)", at()));
        let parsed: PartLine = serde_json::from_str(text).map_err(|_| not_a_part())?;
        let (index, outcome) = match parsed {
            PartLine {
                index: None,
                result: None,
                error: None,
                shard: Some(shard),
                of: Some(of),
                items: Some(items),
            } => {
                end = Some(End { shard, of, items });
                continue;
            }
            PartLine { index: Some(index), result: Some(result), error: None, shard: None, of: None, items: None } => {
                (index, Outcome::Result(result))
            }
            PartLine { index: Some(index), result: None, error: Some(error), shard: None, of: None, items: None } => {
                (index, Outcome::Error(error))
            }
            _ => return Err(not_a_part()),
        };
        if outcomes.len() <= index {
            outcomes.resize_with(index + 1, || None);
        }
        if let Some((_, other)) = &outcomes[index] {
            return Err(CliError::Usage(format!(
                "item {index} is in both {} and {}",
                parts[*other].display(),
                path.display()
            )));
        }
        outcomes[index] = Some((outcome, part));
    }
    end.ok_or_else(|| {
        CliError::Usage(format!(
            "{} is not a whole part: it has no closing {{\"shard\": …}} line (did its run fail or stop?)",
            path.display()
        ))
    })
}

/// Writes the merged output in the chosen format; failed items (from runs
/// with `--keep-going`) are reported as that run would have.
fn write(args: &MergeArgs, outcomes: impl Iterator<Item = Outcome>) -> Result<(), CliError> {
    let mut out = Output::open(args.output.as_deref())?;
    let mut failures = Vec::new();
    let as_array = !args.imap && !args.imap_unordered;
    if as_array {
        out.write(b"[")?;
    }
    for (index, outcome) in outcomes.enumerate() {
        if as_array && index > 0 {
            out.write(b",")?;
        }
        match outcome {
            Outcome::Result(json) if as_array => out.write(json.get().as_bytes())?,
            Outcome::Result(json) if args.imap => line(&mut out, json.get().as_bytes())?,
            Outcome::Result(json) => indexed_line(&mut out, index, json.get().as_bytes())?,
            Outcome::Error(message) => {
                match as_array {
                    // A failed item is null in the array, as with --keep-going.
                    true => out.write(b"null")?,
                    false => line(&mut out, error_line(index, &message).as_bytes())?,
                }
                failures.push(message);
            }
        }
    }
    if as_array {
        out.write(b"]\n")?;
    }
    out.commit()?;
    for failure in &failures {
        eprintln!("rpool-wasm: failed: {failure}");
    }
    match failures.len() {
        0 => Ok(()),
        n => Err(CliError::ItemsFailed(n)),
    }
}

/// `3, 7, 11` (and how many more, past ten).
fn list(indices: &[usize]) -> String {
    let shown: Vec<String> = indices.iter().take(10).map(usize::to_string).collect();
    match indices.len() {
        n if n > 10 => format!("{} (and {} more)", shown.join(", "), n - 10),
        _ => shown.join(", "),
    }
}
