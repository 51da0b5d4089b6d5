//go:build !wasm

package main

import (
	"testing"

	"rpool-wasm.invalid/rpool"
)

// The tasks, run natively with `go test` in guests/go: rpool.Simulate calls
// an export as the host would, against the SDK's in-process stand-in host.
func TestTasks(t *testing.T) {
	cases := []struct {
		task  func() int32
		input string
		want  rpool.Outcome
	}{
		{squareExport, "[5]", rpool.Outcome{Result: "25"}},
		{squareExport, "[3037000500]", rpool.Outcome{Status: 1, Result: "null", Error: "square(3037000500) overflows a 64-bit integer"}},
		{powerExport, "[3, 4]", rpool.Outcome{Result: "81"}},
		{powerExport, "[-2, 63]", rpool.Outcome{Result: "-9223372036854775808"}},
		{powerExport, "[2, 63]", rpool.Outcome{Status: 1, Result: "null", Error: "power(2, 63) overflows a 64-bit integer"}},
		{powerExport, "[2, -1]", rpool.Outcome{Status: 1, Result: "null", Error: "power expects a non-negative exponent, got -1"}},
		{processItemExport, "[2]", rpool.Outcome{Status: 1, Result: "null", Error: "process_item needs the initializer: --init init_worker --init-args '[factor]'"}},
		{initWorkerExport, "[10]", rpool.Outcome{Result: "null"}},
		{processItemExport, "[2]", rpool.Outcome{Result: "20"}},
		{riskyTaskExport, "[3]", rpool.Outcome{Status: 1, Result: "null", Error: "Cannot process 3"}},
		{riskyTaskExport, "[4]", rpool.Outcome{Result: "16"}},
	}
	for _, c := range cases {
		if got := rpool.Simulate(c.input, c.task); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.input, got, c.want)
		}
	}
}
