// Command tasks is the example rpool task module in Go, on guest-sdk/go: the
// tasks of the Python Pool tutorial. Build it with `guests/go/build.sh
// OUT.wasm`, then e.g.
//
//	echo '[1,2,3]' | rpool-wasm run OUT.wasm --func square --map -
//	echo '[[2,3],[3,4]]' | rpool-wasm run OUT.wasm --func power --starmap -
//	echo '[1,2,3]' | rpool-wasm run OUT.wasm --func process_item --init init_worker --init-args '[10]' --map -
//
// Each task is a plain typed Go function; its export, named after the task,
// is one line that hands it to the SDK, which decodes the JSON argument array
// into its parameters and encodes its result (or its error) for the host.
package main

import (
	"errors"
	"fmt"
	"math"

	"rpool-wasm.invalid/rpool"
)

//go:wasmexport square
func squareExport() int32 { return rpool.Call1(square) }

//go:wasmexport power
func powerExport() int32 { return rpool.Call2(power) }

//go:wasmexport init_worker
func initWorkerExport() int32 { return rpool.Do1(initWorker) }

//go:wasmexport process_item
func processItemExport() int32 { return rpool.Call1(processItem) }

//go:wasmexport risky_task
func riskyTaskExport() int32 { return rpool.Call1(riskyTask) }

// square(x) = x*x, for map: the input is `[x]`. Overflow is an error, not a
// wrapped (wrong) number.
func square(x int64) (int64, error) {
	result, ok := mul(x, x)
	if !ok {
		return 0, fmt.Errorf("square(%d) overflows a 64-bit integer", x)
	}
	return result, nil
}

// power(base, exp) = base^exp, for starmap: the input is the item `[base, exp]`.
func power(base, exp int64) (int64, error) {
	if exp < 0 {
		return 0, fmt.Errorf("power expects a non-negative exponent, got %d", exp)
	}
	overflow := fmt.Errorf("power(%d, %d) overflows a 64-bit integer", base, exp)
	// Square-and-multiply, checking every product.
	result, b, ok := int64(1), base, true
	for e := exp; e > 0; e >>= 1 {
		if e&1 == 1 {
			if result, ok = mul(result, b); !ok {
				return 0, overflow
			}
		}
		if e > 1 {
			if b, ok = mul(b, b); !ok {
				return 0, overflow
			}
		}
	}
	return result, nil
}

// Per-worker state, set by the initializer: like a Python worker's globals,
// it lives as long as this instance and is set again after every rebuild.
var (
	factor     int64
	haveFactor bool
)

// initWorker is the initializer: `--init init_worker --init-args '[factor]'`.
func initWorker(f int64) error {
	factor, haveFactor = f, true
	return nil
}

// processItem(x) = x * factor, with the factor from init_worker.
func processItem(x int64) (int64, error) {
	if !haveFactor {
		return 0, errors.New("process_item needs the initializer: --init init_worker --init-args '[factor]'")
	}
	result, ok := mul(x, factor)
	if !ok {
		return 0, fmt.Errorf("process_item(%d) overflows a 64-bit integer", x)
	}
	return result, nil
}

// riskyTask(x) = x*x, but fails for 3: shows how one item's error is reported.
func riskyTask(x int64) (int64, error) {
	if x == 3 {
		return 0, fmt.Errorf("Cannot process %d", x)
	}
	result, ok := mul(x, x)
	if !ok {
		return 0, fmt.Errorf("risky_task(%d) overflows a 64-bit integer", x)
	}
	return result, nil
}

// mul is a*b, and whether it fits in an int64 (Go's * wraps silently).
func mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || p/b != a {
		return 0, false
	}
	return p, true
}

// main is required of package main, and never runs: the module is a reactor,
// whose tasks the host calls one by one.
func main() {}
