//go:build wasm

package rpool

import "unsafe"

// The four imports of task ABI v1, from the module `rpool`. Pointers are
// offsets in the module's linear memory, which is where the Go heap lives:
// the compiler passes an unsafe.Pointer as a wasm i32.

// inputLen is `rpool.input_len: () -> i32`: the byte length of the current
// call's input.
//
//go:wasmimport rpool input_len
func inputLen() int32

// inputRead is `rpool.input_read: (dst: i32) -> ()`: copies exactly
// inputLen() bytes of input to dst, which must have room for all of them
// (the host traps on an out-of-bounds destination).
//
//go:wasmimport rpool input_read
func inputRead(dst unsafe.Pointer)

// outputWrite is `rpool.output_write: (ptr: i32, len: i32) -> ()`: sets the
// call's result (JSON text); a later call replaces an earlier one.
//
//go:wasmimport rpool output_write
func outputWrite(ptr unsafe.Pointer, len int32)

// errorWrite is `rpool.error_write: (ptr: i32, len: i32) -> ()`: sets the
// call's error message (UTF-8), used when the task returns non-zero.
//
//go:wasmimport rpool error_write
func errorWrite(ptr unsafe.Pointer, len int32)
