//! rpool.zig: write rpool task modules (task ABI v1, docs/abi.md) in Zig.
//!
//! A task is an ordinary Zig function; `rpool.call` does the ABI work around it:
//! it reads the call's input (the JSON array of the call's arguments), parses
//! it into the function's parameters with `std.json`, calls the function, and
//! writes its result as JSON, or its error as the item's error message.
//!
//!     const rpool = @import("rpool");
//!     fn square(x: i64) !i64 {
//!         return std.math.mul(i64, x, x) catch rpool.fail("square({d}) overflows", .{x});
//!     }
//!     comptime {
//!         rpool.exportTask("square", square); // the export `square: () -> i32`
//!     }
//!
//! An initializer is exported the same way, usually a function returning `void`
//! that stores its arguments in globals. guests/zig/tasks.zig is an example.
//!
//! Built for Zig 0.17.1 (`python3 -m pip install ziglang==0.17.1`); `std.json`
//! changes between Zig releases. Build as a module named `rpool`:
//!     zig build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic -O ReleaseSmall \
//!         --dep rpool -Mroot=tasks.zig -Mrpool=guest-sdk/zig/rpool.zig -femit-bin=tasks.wasm
const std = @import("std");

/// The ABI v1 imports, from the module `rpool`.
pub const abi = struct {
    pub extern "rpool" fn input_len() i32;
    pub extern "rpool" fn input_read(dst: [*]u8) void;
    pub extern "rpool" fn output_write(ptr: [*]const u8, len: i32) void;
    pub extern "rpool" fn error_write(ptr: [*]const u8, len: i32) void;
};

/// Memory for one call: everything allocated during a call (the input, the
/// parsed arguments, the result's text) is freed when the call returns.
var call_arena = std.heap.ArenaAllocator.init(std.heap.wasm_allocator);

/// Set by `fail`, so that `call` does not overwrite the task's own message
/// with the error's name.
var message_written = false;

/// The allocator for the current call (freed when the call returns). Use
/// `std.heap.wasm_allocator` for state that must outlive the call.
pub fn allocator() std.mem.Allocator {
    return call_arena.allocator();
}

/// The current call's input: UTF-8 JSON text, the array of the arguments.
pub fn input(gpa: std.mem.Allocator) error{OutOfMemory}![]u8 {
    const len: usize = @intCast(abi.input_len());
    // The host copies exactly input_len() bytes and traps on an out-of-bounds
    // destination, so the room must exist before input_read.
    const buf = try gpa.alloc(u8, len);
    abi.input_read(buf.ptr);
    return buf;
}

/// Parses the current call's input into `T`, a tuple of the argument types
/// (`struct { i64 }` for `[x]`, `struct { i64, i64 }` for `[a, b]`).
pub fn args(comptime T: type, gpa: std.mem.Allocator) !T {
    const text = try input(gpa);
    return std.json.parseFromSliceLeaky(T, gpa, text, .{});
}

/// Makes `value` (anything `std.json` can write) the call's result.
pub fn output(value: anytype) error{OutOfMemory}!void {
    const text = try std.json.Stringify.valueAlloc(allocator(), value, .{});
    abi.output_write(text.ptr, @intCast(text.len));
}

/// Sets the item's error message and returns `error.TaskFailed`, so that a
/// task can `return rpool.fail("Cannot process {d}", .{x});`.
pub fn fail(comptime fmt: []const u8, fmt_args: anytype) error{TaskFailed} {
    const msg = std.fmt.allocPrint(allocator(), fmt, fmt_args) catch fmt;
    writeError(msg);
    return error.TaskFailed;
}

fn writeError(msg: []const u8) void {
    abi.error_write(msg.ptr, @intCast(msg.len));
    message_written = true;
}

/// Runs `f` as the current call's task, and returns what the export must
/// return: 0 on success, 1 on failure. Its parameters come from the input
/// array, one element each; its result (plain or an error union; `void` is
/// JSON null) becomes the call's result. A returned error becomes the item's
/// error: the message given to `fail`, or else the error's name.
pub fn call(comptime f: anytype) i32 {
    defer _ = call_arena.reset(.retain_capacity);
    message_written = false;
    const gpa = allocator();

    const Args = std.meta.ArgsTuple(@TypeOf(f));
    const parsed = args(Args, gpa) catch |err| {
        const msg = std.fmt.allocPrint(gpa, "invalid arguments: expected a JSON array {s} ({s})", .{
            comptime argsDescription(Args), @errorName(err),
        }) catch "invalid arguments";
        writeError(msg);
        return 1;
    };

    const result = @call(.auto, f, parsed);
    const value = switch (@typeInfo(@TypeOf(result))) {
        .error_union => result catch |err| {
            if (!message_written) writeError(@errorName(err));
            return 1;
        },
        else => result,
    };
    // A void result writes nothing: no output is JSON null to the host.
    if (@TypeOf(value) != void) {
        output(value) catch {
            writeError("out of memory writing the result");
            return 1;
        };
    }
    return 0;
}

/// Exports `f` under `name` as an rpool task: a `() -> i32` function that
/// runs `call(f)`. Use it in a `comptime` block.
pub fn exportTask(comptime name: []const u8, comptime f: anytype) void {
    const Task = struct {
        fn run() callconv(.c) i32 {
            return call(f);
        }
    };
    @export(&Task.run, .{ .name = name });
}

/// "[i64, i64]" for `struct { i64, i64 }`: what the input should have been.
fn argsDescription(comptime T: type) []const u8 {
    comptime {
        var text: []const u8 = "[";
        for (@typeInfo(T).@"struct".field_types, 0..) |field_type, i| {
            text = text ++ (if (i > 0) ", " else "") ++ @typeName(field_type);
        }
        return text ++ "]";
    }
}
