//! The command line's grammar (clap).

use std::path::PathBuf;

use clap::{ArgGroup, Parser, Subcommand};

/// Python's multiprocessing.Pool, where the tasks are WebAssembly modules.
#[derive(Debug, Parser)]
#[command(name = "rpool-wasm", version = VERSION, about, propagate_version = true)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The version, with the wasmtime it embeds (which decides what modules run).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (wasmtime ", env!("RPOOL_WASMTIME_VERSION"), ")");

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Run a task module over the items of a JSON file, in a pool of worker processes.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Print a shell completion script: `rpool-wasm completions bash > /etc/bash_completion.d/rpool-wasm`
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Show what a task module is: its mode, task exports, imports, memory and cache state.
    Inspect(super::inspect::InspectArgs),
    /// Put the parts that `run --shard I/N` wrote back together, as one run's output.
    Merge(super::merge::MergeArgs),
    /// Be a cluster node: run workers for the jobs of a NATS server (see `run --nats`).
    #[command(after_help = super::serve::SERVE_EXAMPLES)]
    Serve(super::serve::ServeArgs),
    /// Create a task project in a new directory NAME, ready to build and run.
    #[command(after_help = super::new::NEW_EXAMPLES)]
    New(super::new::NewArgs),
    /// Build a task module from one source file (.py, .js, .go, .c, .zig) with its toolchain.
    #[command(after_help = super::build::BUILD_EXAMPLES)]
    Build(super::build::BuildArgs),
}

const RUN_EXAMPLES: &str = "\
Examples:
  rpool-wasm run square.wasm --map inputs.json          [1,2,3] -> [1,4,9]
  rpool-wasm run tutorial.wasm --func power --starmap pairs.json
  rpool-wasm run square.wasm --imap inputs.json         one result per line, in order
  rpool-wasm run square.wasm --imap-unordered -         items from stdin; {\"index\":i,\"result\":r} lines
  rpool-wasm run tutorial.wasm --func process_item --init init_worker --init-args '[10]' --map inputs.json
  rpool-wasm run square.wasm --imap items.jsonl --keep-going --journal run.journal | head
  rpool-wasm run gofmt.wasm --map files.json --raw-output --dir src -- -l {}    a WASI program per item

Tasks see no files, no host environment and no network unless granted (--dir, --ro-dir, --env).

Exit codes: 0 ok, 1 an item failed, 2 bad usage or input, 3 a worker could not start
(initializer failed), 4 the pool could not run, 5 the output could not be written,
130 interrupted (SIGINT), 143 terminated (SIGTERM).";

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["map", "starmap", "imap", "imap_unordered"])))]
pub(super) struct RunArgs {
    /// The task module: a .wasm binary or .wat text.
    #[arg(value_name = "TASK")]
    pub task: PathBuf,

    /// Call the task once per item of this JSON array, as func(item); print the
    /// JSON array of results in input order. `-` reads standard input.
    #[arg(long, value_name = "INPUTS.json")]
    pub map: Option<PathBuf>,

    /// Like --map, but each item is the argument array: func(*item).
    #[arg(long, value_name = "ARGS.json")]
    pub starmap: Option<PathBuf>,

    /// Like --map, but print one result per line, in input order, each as soon
    /// as it and those before it are ready.
    #[arg(long, value_name = "INPUTS.json")]
    pub imap: Option<PathBuf>,

    /// Like --imap, but in completion order; each line is {"index": i, "result": r}.
    #[arg(long, value_name = "INPUTS.json")]
    pub imap_unordered: Option<PathBuf>,

    /// The task export to call [default: the module's only task export]
    #[arg(long, value_name = "NAME")]
    pub func: Option<String>,

    /// Number of worker processes [default: available cores, or $RPOOL_WASM_WORKERS]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// Items sent to a worker at a time [default: ceil(items / (4 × workers)), as Python]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub chunksize: Option<u32>,

    /// Initializer export each worker runs once before its first item
    #[arg(long, value_name = "NAME")]
    pub init: Option<String>,

    /// The initializer's arguments, a JSON array (Python's initargs) [default: []]
    #[arg(long, value_name = "JSON", requires = "init")]
    pub init_args: Option<String>,

    /// Replace a worker after it has run N tasks (chunks), as Python's maxtasksperchild
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tasks_per_worker: Option<u32>,

    /// Times an item is run again when its worker process dies while running it
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,

    /// How the inputs are laid out: a JSON array, or JSON Lines (one item per line)
    /// [default: jsonl for .jsonl/.ndjson files, else json]
    #[arg(long, value_name = "FORMAT", value_parser = ["json", "jsonl"])]
    pub input_format: Option<String>,

    /// Run every item even when some fail; report the failed ones at the end (exit 1).
    /// With --imap*, a failed item is a line {"index": i, "error": "..."}; with --map, null
    #[arg(long)]
    pub keep_going: bool,

    /// Append each finished result to FILE as it completes; run again with the same
    /// journal to compute only the items that are missing
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// No progress bar and no summary on stderr
    #[arg(short, long, conflicts_with = "progress")]
    pub quiet: bool,

    /// Show the progress bar even when stderr is not a terminal
    #[arg(long)]
    pub progress: bool,

    /// Write the results to FILE (replaced only once every item succeeded)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Stop a call still running after DURATION (500ms, 2s, 1m); that item fails [default: none]
    #[arg(long, value_name = "DURATION", value_parser = super::units::duration)]
    pub timeout: Option<std::time::Duration>,

    /// Cap each instance's linear memory (64MiB, 1GiB) [default: 1GiB]
    #[arg(long, value_name = "SIZE", value_parser = super::units::size)]
    pub max_memory: Option<u64>,

    /// Cap one call's output or error message [default: 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = super::units::size)]
    pub max_output: Option<u64>,

    /// Give each call N units of fuel (about one per wasm instruction): a deterministic limit
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub fuel: Option<u64>,

    /// Let tasks read and write a host directory, seen as GUEST [default GUEST: HOST]
    #[arg(long, value_name = "HOST[::GUEST]")]
    pub dir: Vec<String>,

    /// Let tasks read a host directory, seen as GUEST [default GUEST: HOST]
    #[arg(long, value_name = "HOST[::GUEST]")]
    pub ro_dir: Vec<String>,

    /// Give tasks an environment variable; NAME alone passes the host's value
    #[arg(long, value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,

    /// For a WASI command module: each result is its stdout as a JSON string, not parsed as JSON
    #[arg(long)]
    pub raw_output: bool,

    /// For a WASI command module: a string item's text on stdin instead of its JSON
    #[arg(long)]
    pub raw_input: bool,

    /// For a WASI command module: its arguments, after `--` (argv[0] is the module's file name);
    /// `{}` becomes the item, a string item as its text and another as its JSON
    #[arg(last = true, value_name = "ARGS")]
    pub command_args: Vec<String>,

    /// Run only shard I of N (the items whose index is I modulo N) and write them as
    /// `{"index": i, "result": r}` lines, for `rpool-wasm merge`; `auto` reads
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX (with --shards)
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,

    /// With `--shard auto` under a scheduler that gives only an index
    /// (Kubernetes' JOB_COMPLETION_INDEX): the number of shards
    #[arg(long, value_name = "N", requires = "shard", value_parser = clap::value_parser!(usize))]
    pub shards: Option<usize>,

    /// Show a trap's whole wasm backtrace, a frame per line [default: one line naming where it trapped;
    /// also RPOOL_WASM_BACKTRACE=1]
    #[arg(long)]
    pub backtrace: bool,

    /// Run on a cluster: the NATS server (with JetStream) whose nodes (`rpool-wasm serve`)
    /// run the items; the output is the same [default: $RPOOL_WASM_NATS, else local workers]
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,

    /// With --nats: the job's name; run again with the same name to attach to it and
    /// compute only what is missing [default: a fresh name]
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,

    /// With --nats: a NATS credentials file (.creds) [default: $RPOOL_WASM_NATS_CREDS]
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,

    /// With --nats: a CA certificate (PEM) for the server's TLS [default: $RPOOL_WASM_NATS_CA]
    #[arg(long, value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,
}

impl RunArgs {
    /// Which mode was chosen, and its inputs file.
    pub fn mode(&self) -> (Mode, &PathBuf) {
        match (&self.map, &self.starmap, &self.imap, &self.imap_unordered) {
            (Some(p), ..) => (Mode::Map, p),
            (_, Some(p), ..) => (Mode::Starmap, p),
            (_, _, Some(p), _) => (Mode::Imap, p),
            (.., Some(p)) => (Mode::ImapUnordered, p),
            _ => unreachable!("clap requires one mode"),
        }
    }
}

/// The Pool method a `run` mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Map,
    Starmap,
    Imap,
    ImapUnordered,
}

impl Mode {
    /// The flag's name, without dashes.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Map => "map",
            Mode::Starmap => "starmap",
            Mode::Imap => "imap",
            Mode::ImapUnordered => "imap-unordered",
        }
    }
}
