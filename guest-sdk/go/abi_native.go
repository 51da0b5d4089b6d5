//go:build !wasm

package rpool

import (
	"bytes"
	"strconv"
	"unsafe"
)

// Outside WebAssembly (go test, go vet, gopls on the build machine) there is
// no host: the four imports are served by an in-process stand-in, which
// Simulate drives. A task module therefore also builds natively, and its
// tasks can be unit-tested with `go test`.

// simulated is the stand-in host's state for the current Simulate call.
var simulated struct {
	input     []byte
	output    []byte
	hasOutput bool
	message   string
	hasError  bool
}

// inputLen is input_len, served from the simulated call.
func inputLen() int32 { return int32(len(simulated.input)) }

// inputRead is input_read: copies the simulated input to dst.
func inputRead(dst unsafe.Pointer) {
	copy(unsafe.Slice((*byte)(dst), len(simulated.input)), simulated.input)
}

// outputWrite is output_write: keeps a copy of the result, as the host does.
func outputWrite(ptr unsafe.Pointer, len int32) {
	simulated.output = bytes.Clone(unsafe.Slice((*byte)(ptr), len))
	simulated.hasOutput = true
}

// errorWrite is error_write: keeps a copy of the message.
func errorWrite(ptr unsafe.Pointer, len int32) {
	simulated.message = string(unsafe.Slice((*byte)(ptr), len))
	simulated.hasError = true
}

// Outcome is what the host would make of one call: see Simulate.
type Outcome struct {
	// Status is the export's return value: 0 for success.
	Status int32
	// Result is the JSON text the call wrote with output_write, or "null" if
	// it wrote none (the host's rule).
	Result string
	// Error is the message the call wrote with error_write, or, if it wrote
	// none, the host's "returned code N" text; empty when Status is 0.
	Error string
}

// Simulate calls task (a //go:wasmexport function, such as squareExport)
// natively, as the host would call the export: with input as the call's
// input, which must be the JSON array of the call's arguments ("[7]" for a
// task of one parameter). It exists only outside WebAssembly, for tests:
//
//	func TestSquare(t *testing.T) {
//		if got := rpool.Simulate("[7]", squareExport); got.Result != "49" {
//			t.Errorf("square(7) = %+v", got)
//		}
//	}
//
// Simulate is not safe for concurrent use: the stand-in host has one call at
// a time, as a worker's instance does.
func Simulate(input string, task func() int32) Outcome {
	simulated.input = []byte(input)
	simulated.output, simulated.hasOutput = nil, false
	simulated.message, simulated.hasError = "", false
	status := task()
	out := Outcome{Status: status, Result: "null"}
	if simulated.hasOutput {
		out.Result = string(simulated.output)
	}
	if status != 0 {
		out.Error = simulated.message
		if !simulated.hasError {
			out.Error = "returned code " + strconv.FormatInt(int64(status), 10)
		}
	}
	return out
}
