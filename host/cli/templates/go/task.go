// {{name}}: an rpool task module in Go, on the rpool SDK (copied from
// rpool-wasm's guest-sdk/go into ./rpool). Build and run it:
//
//	./build.sh && rpool-wasm run {{name}}.wasm --map inputs.json
//
// A task is a plain typed Go function; its export is one line that hands it
// to the SDK, which decodes the JSON argument array into its parameters and
// encodes its result, or its error, for the host. rpool/README.md has more.
package main

import (
	"fmt"

	"rpool-wasm.invalid/rpool"
)

//go:wasmexport square
func squareExport() int32 { return rpool.Call1(square) }

// square(x) = x*x, for --map: the input is the argument array `[x]`.
// Overflow is an error, not a wrong number.
func square(x int64) (int64, error) {
	if x != 0 && x*x/x != x { // Go's * wraps silently
		return 0, fmt.Errorf("square(%d) overflows a 64-bit integer", x)
	}
	return x * x, nil
}

// main is required of package main, and never runs: the module is a reactor,
// whose tasks the host calls one by one.
func main() {}
