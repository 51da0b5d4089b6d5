//! The WebAssembly runtime, shared by the parent (which checks and compiles
//! modules) and the workers (which run them), so that both configure their
//! engines alike: the limits and the engine configurations they need
//! ([`limits`]), the host side of ABI v1 ([`host_abi`]), what a task may
//! see of the host ([`sandbox`]), and what a trap says ([`trap`]).
//!
//! A second module kind (a WebAssembly component) brings its own engine
//! configuration and host functions here, beside ABI v1's.

pub(crate) mod component_host;
pub(crate) mod host_abi;
pub(crate) mod limits;
pub(crate) mod sandbox;
pub(crate) mod trap;
