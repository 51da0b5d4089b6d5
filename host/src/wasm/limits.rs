//! What one call of a task may use — time, memory, output, fuel — and the
//! engine configuration those limits need. Sent to every worker in its start
//! frame, so that the parent, which compiles, and the workers, which run,
//! configure their engines identically.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default cap on each instance's linear memory: 1 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;
/// The default cap on one call's output: 64 MiB.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;

/// Limits on every call of a task; see the [`PoolBuilder`](crate::PoolBuilder) setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// How long one call may run before it is interrupted.
    pub timeout: Option<Duration>,
    /// The most linear memory an instance may grow to, in bytes.
    pub max_memory: u64,
    /// The most bytes one call may pass to `output_write` or `error_write`.
    pub max_output: u64,
    /// Fuel (roughly, wasm instructions) one call may use.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: None, max_memory: DEFAULT_MAX_MEMORY, max_output: DEFAULT_MAX_OUTPUT, fuel: None }
    }
}

impl Limits {
    /// The engine for these limits: epoch interruption only with a timeout,
    /// fuel metering only with fuel, since each makes compiled code slower
    /// (and a different artifact, which the cache keys on).
    pub(crate) fn engine(&self) -> wasmtime::Engine {
        wasmtime::Engine::new(&self.config()).expect("the engine configuration is valid")
    }

    /// The configuration that decides how modules are compiled: every engine
    /// that maps an artifact the parent compiled must start from it.
    pub(crate) fn config(&self) -> wasmtime::Config {
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        config.epoch_interruption(self.timeout.is_some());
        config.consume_fuel(self.fuel.is_some());
        config
    }

    /// A command-mode worker's engine: the configuration of
    /// [`Limits::engine`] (the parent compiled the
    /// artifact with it; a mismatch fails loudly when the worker maps it), plus
    /// wasmtime's pooling allocator. Command mode builds an instance per item,
    /// and the pool hands each one a memory slot that is reset in place, instead
    /// of mapping and unmapping linear memory every time: that removes nearly
    /// all of the per-item system time.
    pub(crate) fn pooled_engine(&self) -> wasmtime::Engine {
        let mut config = self.config();
        let mut pooling = wasmtime::PoolingAllocationConfig::new();
        // One instance lives at a time (the last is dropped before the next is
        // built); one spare keeps that from being a hard rule. The slots keep
        // their default size: `--max-memory` is the store's limiter's to enforce,
        // and a slot size of its own would change how code is compiled.
        pooling
            .total_core_instances(2)
            .total_memories(2)
            .total_tables(2)
            // Clearing a small memory in place is cheaper than giving its pages
            // back to the kernel and faulting them in again.
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(pooling);
        // Should this host refuse the pool (too little address space for its
        // slots), the on-demand allocator runs the same code, only slower.
        wasmtime::Engine::new(&config).unwrap_or_else(|_| self.engine())
    }
}

/// How often a worker with a timeout advances its engine's epoch: the
/// timeout's resolution.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Gives the store one call's fuel and deadline.
pub(crate) fn arm<T>(store: &mut wasmtime::Store<T>, limits: &Limits) {
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel).expect("fuel is enabled with a fuel limit");
    }
    if let Some(timeout) = limits.timeout {
        store.set_epoch_deadline((timeout.as_millis() / EPOCH_TICK.as_millis()) as u64 + 1);
    }
}

/// No limit outside calls (a component's instantiation, which runs its
/// guest runtime's start-up).
pub(crate) fn disarm<T>(store: &mut wasmtime::Store<T>, limits: &Limits) {
    if limits.fuel.is_some() {
        store.set_fuel(u64::MAX).expect("fuel is enabled with a fuel limit");
    }
    if limits.timeout.is_some() {
        // The delta is added to the current epoch, so not u64::MAX.
        store.set_epoch_deadline(u64::MAX / 2);
    }
}

/// A duration as a person writes it: `500ms`, `2s`, `1.5s`, `1m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// A size as a person writes it: `64 MiB`, `1 GiB`, `1000 bytes`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1000), "1000 bytes");
    }
}
