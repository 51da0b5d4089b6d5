//! Items as the command line and other front ends read them: JSON arrays or
//! JSON Lines, lazily, with errors that name the line and column
//! ([`items`]), and a quick check that bytes are one JSON value ([`json`]),
//! which workers use on results too.

pub(crate) mod items;
pub(crate) mod json;
mod scan;
