//! `rpool-wasm serve`: a cluster node. It runs each job of the NATS
//! server on local worker processes until SIGTERM or SIGINT drains it
//! (the chunks it holds finish, those it took and did not start go back);
//! a second signal ends it at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

use super::CliError;
use rpool_wasm::{DirGrant, NATS_ENV, Node};

pub(super) const SERVE_EXAMPLES: &str = "\
Examples:
  nats-server -js -sd /var/lib/nats                       once, anywhere
  rpool-wasm serve --nats nats://HOST:4222 -w 8           on every machine that should work
  rpool-wasm serve --nats nats://HOST:4222 --allow-dir /srv/data::/data
  rpool-wasm run task.wasm --map inputs.json --nats nats://HOST:4222 --job nightly

The node logs one line per job it joins or leaves. SIGTERM or SIGINT drains it: the chunks it
holds finish, those it took and did not start go back to the queue; a second signal ends it at once.";

#[derive(Debug, clap::Args)]
pub(super) struct ServeArgs {
    /// The NATS server (with JetStream): nats://[USER:PASSWORD@]HOST:PORT, tls://…
    /// [default: $RPOOL_WASM_NATS]
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,

    /// Worker processes per job [default: available cores, or $RPOOL_WASM_WORKERS]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// Let jobs use a directory of this machine: a job's --dir NAME (or a path below it)
    /// is HOST here [default NAME: HOST]. Jobs asking for any other directory are refused
    #[arg(long, value_name = "HOST[::NAME]")]
    pub allow_dir: Vec<String>,

    /// Like --allow-dir, but tasks may only read it
    #[arg(long, value_name = "HOST[::NAME]")]
    pub allow_ro_dir: Vec<String>,

    /// The node's name in the cluster and its log [default: HOSTNAME-PID]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// A NATS credentials file (.creds) [default: $RPOOL_WASM_NATS_CREDS]
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,

    /// A CA certificate (PEM) for the server's TLS [default: $RPOOL_WASM_NATS_CA]
    #[arg(long, value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,
}

/// The environment's value of `name`, if set and not empty.
pub(super) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub(super) fn serve(args: ServeArgs) -> Result<(), CliError> {
    let url = args.nats.clone().or_else(|| env(NATS_ENV)).ok_or_else(|| {
        CliError::Usage(format!("serve needs the NATS server's URL: --nats nats://HOST:4222 (or {NATS_ENV})"))
    })?;
    let mut builder = Node::builder(&url);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers as usize);
    }
    if let Some(name) = &args.name {
        builder = builder.name(name);
    }
    for (spec, read_only) in
        args.allow_dir.iter().map(|d| (d, false)).chain(args.allow_ro_dir.iter().map(|d| (d, true)))
    {
        let grant = DirGrant::parse(spec, read_only);
        if !grant.host.is_dir() {
            return Err(CliError::Usage(format!("--allow-dir {spec}: {} is not a directory", grant.host.display())));
        }
        builder = builder.allow_dir(grant);
    }
    if let Some(creds) = args.nats_creds.clone().or_else(|| env("RPOOL_WASM_NATS_CREDS").map(PathBuf::from)) {
        builder = builder.nats_credentials(creds);
    }
    if let Some(ca) = args.nats_ca.clone().or_else(|| env("RPOOL_WASM_NATS_CA").map(PathBuf::from)) {
        builder = builder.nats_ca(ca);
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| CliError::Environment(format!("cannot handle signals: {e}")))?;
    let node = builder.start()?;
    let drainer = node.drainer();
    std::thread::Builder::new()
        .name("rpool-signals".into())
        .spawn(move || {
            static SEEN: AtomicUsize = AtomicUsize::new(0);
            for _ in signals.forever() {
                if SEEN.fetch_add(1, Ordering::SeqCst) == 0 {
                    drainer.drain();
                } else {
                    drainer.stop();
                }
            }
        })
        .expect("a thread can be spawned");
    node.wait();
    Ok(())
}
