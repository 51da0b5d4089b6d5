//! Cluster mode: one pool spread over many machines through a NATS server
//! with JetStream (`docs/cluster.md` has the design).
//!
//! The seam is the pool's queue of chunks ([`PoolState`](crate::dispatch::PoolState)):
//! a pool built with [`PoolBuilder::nats`](crate::PoolBuilder::nats) starts no
//! worker slots but one dispatcher ([`client`]) that takes the same chunks
//! from the same queue, publishes them to the job's work stream, and
//! delivers the outcomes that nodes publish on the job's results stream to
//! the same sinks, once per item. So every method of [`Pool`](crate::Pool)
//! behaves as it does locally. A [`Node`] ([`node`]) is the other end: a
//! local pool per job, fed from the work stream.
//!
//! The async client and its runtime stay in this folder: a small
//! current-thread tokio runtime per pool or node, on threads of its own.

pub(crate) mod client;
mod indices;
pub(crate) mod node;
pub(crate) mod protocol;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::BuildError;
use crate::wasm::sandbox::DirGrant;

pub use node::{Node, NodeBuilder, NodeDrainer};

/// The environment variable that sets the default NATS server URL
/// (the command line's `--nats`).
pub const NATS_ENV: &str = "RPOOL_WASM_NATS";

/// The environment variable that sets how long a node may hold a chunk
/// without a word (a progress ack) before the broker gives it to another
/// node: `30s` by default; `500ms`, `5s`, or a number of seconds.
pub const ACK_WAIT_ENV: &str = "RPOOL_WASM_NATS_ACK_WAIT";

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// How a pool or node reaches the broker, and the job a pool runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterOptions {
    pub url: Option<String>,
    pub credentials: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub job: Option<String>,
}

/// The ack wait: `$RPOOL_WASM_NATS_ACK_WAIT`, else 30 s.
pub(crate) fn ack_wait() -> Duration {
    let Ok(value) = std::env::var(ACK_WAIT_ENV) else { return DEFAULT_ACK_WAIT };
    let value = value.trim();
    let parsed = if let Some(ms) = value.strip_suffix("ms") {
        ms.trim().parse::<u64>().ok().map(Duration::from_millis)
    } else {
        value.strip_suffix('s').unwrap_or(value).trim().parse::<f64>().ok().map(Duration::from_secs_f64)
    };
    parsed.filter(|d| *d >= Duration::from_millis(100)).unwrap_or(DEFAULT_ACK_WAIT)
}

/// A small runtime for the cluster's async code, on the calling thread.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime can be built")
}

/// A connection, and the URL to show in messages (without credentials).
pub(crate) struct Connection {
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub shown: String,
}

/// The URL as messages show it: scheme, host and port, no credentials.
fn shown_url(addr: &async_nats::ServerAddr) -> String {
    format!("{}://{}:{}", addr.scheme(), addr.host(), addr.port())
}

/// Connects to the broker `options` names, with its credentials: user and
/// password or a token in the URL, a creds file, a CA file for TLS. An
/// unreachable server fails within a few seconds; once connected, the
/// client reconnects for ever (a broker restart is a pause, not an end).
pub(crate) async fn connect(options: &ClusterOptions, name: &str) -> Result<Connection, BuildError> {
    let url = options.url.clone().unwrap_or_default();
    let addr: async_nats::ServerAddr =
        url.parse().map_err(|e: std::io::Error| BuildError::ClusterUrl { url: url.clone(), message: e.to_string() })?;
    if addr.is_websocket() {
        return Err(BuildError::ClusterUrl { url, message: "use nats:// or tls://, not websockets".into() });
    }
    let shown = shown_url(&addr);
    let mut connect = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(CONNECT_TIMEOUT)
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(1000)));
    match (addr.username(), addr.password()) {
        (Some(user), Some(password)) => {
            connect = connect.user_and_password(decode(user), decode(password));
        }
        (Some(token), None) => connect = connect.token(decode(token)),
        _ => {}
    }
    if let Some(path) = &options.credentials {
        connect = connect.credentials_file(path).await.map_err(|e| BuildError::Cluster {
            url: shown.clone(),
            message: format!("cannot read the credentials file {}: {e}", path.display()),
        })?;
    }
    if let Some(ca) = &options.ca {
        if !ca.is_file() {
            return Err(BuildError::Cluster { url: shown, message: format!("no CA file {}", ca.display()) });
        }
        connect = connect.add_root_certificates(ca.clone()).require_tls(true);
    }
    let client = tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(1), connect.connect(addr))
        .await
        .map_err(|_| BuildError::ClusterUnreachable { url: shown.clone(), message: "timed out".into() })?
        .map_err(|e| BuildError::ClusterUnreachable { url: shown.clone(), message: one_line(&e) })?;
    let js = async_nats::jetstream::new(client.clone());
    Ok(Connection { client, js, shown })
}

/// `%40` in a URL's user part is `@`.
fn decode(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = part.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An error and its causes on one line.
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
        source = cause_of(source);
    }
    crate::module::one_line(&message)
}

fn cause_of<'a>(error: Option<&'a (dyn std::error::Error + 'static)>) -> Option<&'a (dyn std::error::Error + 'static)> {
    error.and_then(|e| e.source())
}

/// The jobs bucket, created by whoever comes first (a client or a node).
pub(crate) async fn jobs_bucket(
    js: &async_nats::jetstream::Context,
) -> Result<async_nats::jetstream::kv::Store, String> {
    if let Ok(store) = js.get_key_value(protocol::JOBS_BUCKET).await {
        return Ok(store);
    }
    js.create_key_value(async_nats::jetstream::kv::Config {
        bucket: protocol::JOBS_BUCKET.into(),
        description: "rpool-wasm jobs: their settings, and what each node made of them".into(),
        history: 1,
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot create the key-value bucket {}: {}", protocol::JOBS_BUCKET, one_line(&e)))
}

/// The modules' object store, created by whoever comes first.
pub(crate) async fn modules_store(
    js: &async_nats::jetstream::Context,
) -> Result<async_nats::jetstream::object_store::ObjectStore, String> {
    if let Ok(store) = js.get_object_store(protocol::MODULES_BUCKET).await {
        return Ok(store);
    }
    js.create_object_store(async_nats::jetstream::object_store::Config {
        bucket: protocol::MODULES_BUCKET.into(),
        description: Some("rpool-wasm task modules, by SHA-256".into()),
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot create the object store {}: {}", protocol::MODULES_BUCKET, one_line(&e)))
}

/// A SHA-256 in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A directory a job asks for, as a node grants it: the job names a path
/// on the node (`HOST` of its grant); the node grants it if it lies in one
/// of its own grants (`serve --allow-dir HOST[::NAME]`: a job's `NAME`, or
/// a path below it, is the node's `HOST`, or the path below it).
pub(crate) fn grant_on_node(asked: &DirGrant, allowed: &[DirGrant]) -> Option<DirGrant> {
    let wanted = Path::new(&asked.host);
    if wanted.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return None;
    }
    allowed.iter().find_map(|allow| {
        let rest = wanted.strip_prefix(Path::new(&allow.guest)).ok()?;
        let host = if rest.as_os_str().is_empty() { allow.host.clone() } else { allow.host.join(rest) };
        Some(DirGrant { host, guest: asked.guest.clone(), read_only: asked.read_only || allow.read_only })
    })
}

/// A unique job name for a pool that was given none.
pub(crate) fn fresh_job_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("job-{:x}-{:x}-{n}", nanos as u64, std::process::id())
}

/// This host's name, for a node that was given none.
pub(crate) fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    format!("{}-{}", if name.is_empty() { "node" } else { name }, std::process::id())
}

/// Shared by the node's log lines.
pub(crate) type Log = Arc<dyn Fn(&str) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_grant_only_their_directories() {
        let allowed = [DirGrant::parse("/srv/data::/data", false), DirGrant::parse("/tmp/out", true)];
        let asked = DirGrant::parse("/data/in::/in", false);
        assert_eq!(
            grant_on_node(&asked, &allowed),
            Some(DirGrant { host: "/srv/data/in".into(), guest: "/in".into(), read_only: false })
        );
        let asked = DirGrant::parse("/tmp/out", false);
        assert_eq!(grant_on_node(&asked, &allowed).map(|g| g.read_only), Some(true), "the node's read-only wins");
        assert_eq!(grant_on_node(&DirGrant::parse("/etc", false), &allowed), None);
        assert_eq!(grant_on_node(&DirGrant::parse("/data/../etc", false), &allowed), None);
        assert_eq!(grant_on_node(&DirGrant::parse("/database", false), &allowed), None, "components, not prefixes");
    }

    #[test]
    fn url_parts_are_decoded() {
        assert_eq!(decode("a%40b"), "a@b");
        assert_eq!(decode("plain"), "plain");
        assert_eq!(decode("100%"), "100%");
    }
}
