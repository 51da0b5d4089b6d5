//! Example rpool task module in Zig, on guest-sdk/zig/rpool.zig: the tasks of
//! the Python Pool tutorial. Build it with `guests/zig/build.sh OUT.wasm`, then
//!   echo '[1,2,3]' | rpool-wasm run OUT.wasm --func square --map -
//!   echo '[[2,3],[3,4]]' | rpool-wasm run OUT.wasm --func power --starmap -
//!   echo '[1,2,3]' | rpool-wasm run OUT.wasm --func process_item --init init_worker --init-args '[10]' --map -
const std = @import("std");
const rpool = @import("rpool");

comptime {
    rpool.exportTask("square", square);
    rpool.exportTask("power", power);
    rpool.exportTask("init_worker", initWorker);
    rpool.exportTask("process_item", processItem);
    rpool.exportTask("risky_task", riskyTask);
}

/// square(x) = x*x, for map: the input is `[x]`. Overflow is an error, not a
/// wrapped (wrong) number.
fn square(x: i64) !i64 {
    return std.math.mul(i64, x, x) catch rpool.fail("square({d}) overflows a 64-bit integer", .{x});
}

/// power(base, exp) = base^exp, for starmap: the input is the item `[base, exp]`.
fn power(base: i64, exp: i64) !i64 {
    if (exp < 0) return rpool.fail("power expects a non-negative exponent, got {d}", .{exp});
    return std.math.powi(i64, base, exp) catch rpool.fail("power({d}, {d}) overflows a 64-bit integer", .{ base, exp });
}

/// Per-worker state, set by the initializer: like a Python worker's globals,
/// it lives as long as this instance and is set again after every rebuild.
var factor: ?i64 = null;

/// The initializer: `--init init_worker --init-args '[factor]'`.
fn initWorker(f: i64) void {
    factor = f;
}

/// process_item(x) = x * factor, with the factor from init_worker.
fn processItem(x: i64) !i64 {
    const f = factor orelse return rpool.fail("process_item needs the initializer: --init init_worker --init-args '[factor]'", .{});
    return std.math.mul(i64, x, f) catch rpool.fail("process_item({d}) overflows a 64-bit integer", .{x});
}

/// risky_task(x) = x*x, but fails for 3: shows how one item's error is reported.
fn riskyTask(x: i64) !i64 {
    if (x == 3) return rpool.fail("Cannot process {d}", .{x});
    return std.math.mul(i64, x, x) catch rpool.fail("risky_task({d}) overflows a 64-bit integer", .{x});
}
