//! `rpool-wasm inspect TASK [--json]`: what a task module is, without running it.

use std::io::Write as _;
use std::path::PathBuf;

use serde_json::json;

use super::CliError;
use rpool_wasm::{MemoryInfo, ModuleInfo, format_size};

/// The bytes in a WebAssembly page.
const PAGE: u64 = 64 << 10;

#[derive(Debug, clap::Args)]
pub(super) struct InspectArgs {
    /// The task module: a .wasm binary or .wat text.
    #[arg(value_name = "TASK")]
    pub task: PathBuf,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn inspect(args: InspectArgs) -> Result<(), CliError> {
    let info = ModuleInfo::inspect(&args.task)?;
    let text = if args.json { as_json(&info) } else { as_text(&info) };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::Output(format!("cannot write to standard output: {e}")))
}

/// One JSON object; `mode` as people call it (`rpool ABI v1`, `WASI command`).
fn as_json(info: &ModuleInfo) -> String {
    let value = json!({
        "path": info.path,
        "size": info.size,
        "mode": info.mode.describe(),
        "tasks": info.tasks,
        "imports": info.imports,
        "memory": info.memory,
        "cached": info.cached,
        "artifact": info.artifact,
        "world": info.world,
    });
    format!("{value}\n")
}

fn as_text(info: &ModuleInfo) -> String {
    let mut out = format!("{}\n", info.path.display());
    let mut row = |key: &str, value: &str| out.push_str(&format!("  {key:<9} {value}\n"));
    row("mode", info.mode.describe());
    if let Some(world) = &info.world {
        row("world", world);
    }
    row("tasks", &if info.tasks.is_empty() { "(none)".to_string() } else { info.tasks.join(", ") });
    row("memory", &info.memory.map_or("(none)".to_string(), describe_memory));
    row("size", &format!("{} bytes", info.size));
    row(
        "cached",
        &if info.cached {
            format!("yes, {}", info.artifact.display())
        } else {
            "no (the first run compiles it)".to_string()
        },
    );
    if info.imports.is_empty() {
        row("imports", "(none)");
    }
    for (i, import) in info.imports.iter().enumerate() {
        let provided = if import.provided { "" } else { "   NOT PROVIDED by the host" };
        let line = match import.name.is_empty() {
            // A component's import is an interface.
            true => format!("{} {}{provided}", import.module, import.ty),
            false => format!("{}.{} {}{provided}", import.module, import.name, import.ty),
        };
        row(if i == 0 { "imports" } else { "" }, &line);
    }
    out
}

fn describe_memory(memory: MemoryInfo) -> String {
    let pages = |n: u64| {
        let unit = if n == 1 { "page" } else { "pages" };
        format!("{n} {unit} ({})", format_size(n.saturating_mul(PAGE)))
    };
    let maximum = memory.maximum_pages.map_or("no maximum".to_string(), |m| format!("at most {}", pages(m)));
    format!("{} initially, {maximum}", pages(memory.initial_pages))
}
