//! {{name}}: an rpool task module in Zig, on rpool.zig (copied from
//! rpool-wasm's guest-sdk/zig). Build and run it:
//!   ./build.sh && rpool-wasm run {{name}}.wasm --map inputs.json
const std = @import("std");
const rpool = @import("rpool");

comptime {
    rpool.exportTask("square", square);
}

/// square(x) = x*x, for --map. Overflow is an error, not a wrong number.
fn square(x: i64) !i64 {
    return std.math.mul(i64, x, x) catch rpool.fail("square({d}) overflows a 64-bit integer", .{x});
}
