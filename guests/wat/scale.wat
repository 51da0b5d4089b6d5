;; scale.wat: an rpool task module with a per-worker initializer, written by
;; hand with no SDK. It is the WebAssembly twin of Python's
;;
;;   factor = 1
;;   def set_factor(f):           # Pool(initializer=set_factor, initargs=(10,))
;;       global factor; factor = f
;;   def scale(x):                # pool.map(scale, xs)
;;       return x * factor
;;
;; Initializer `set_factor`: receives its initargs, e.g. `[10]`, and keeps the
;; factor in a global. Task `scale`: receives `[x]` and answers x * factor.
;; Both take exactly one integer that fits in a signed 64-bit number; anything
;; else fails with "<name> expects one integer argument".
;;
;; Run it (rpool-wasm accepts the .wat text directly):
;;   echo '[1, 2, 3, -4]' > inputs.json
;;   rpool-wasm run guests/wat/scale.wat --map inputs.json \
;;       --init set_factor --init-args '[10]'
;; which gives 10, 20, 30, -40. Without --init the module has two candidate
;; `() -> i32` exports, so name the task: `--func scale` (factor stays 1).
;;
;; The module only needs the four `rpool` imports; it imports nothing from WASI,
;; so it is plain wasm32, not a WASI reactor, and exports no `_initialize`.
(module
  ;; The ABI v1 imports. They only ever move bytes: the host owns the input
  ;; and copies it into our memory on request; we hand it results the same way.
  (import "rpool" "input_len"    (func $input_len    (result i32)))
  (import "rpool" "input_read"   (func $input_read   (param i32)))
  (import "rpool" "output_write" (func $output_write (param i32 i32)))
  (import "rpool" "error_write"  (func $error_write  (param i32 i32)))

  ;; The host reads and writes guest memory through this export, so it must be
  ;; called exactly `memory`.
  (memory (export "memory") 1)

  ;; Memory layout (one 64 KiB page to start with):
  ;;     0 .. 127  constant error messages
  ;;   128 .. 159  scratch for the decimal text of the result (at most 20
  ;;               bytes), written backwards so that it ends at offset 160
  ;;   160 ..      the call's input, however long it is (memory grows for it)
  (data (i32.const 0)  "scale expects one integer argument")       ;; 34 bytes
  (data (i32.const 40) "set_factor expects one integer argument")  ;; 39 bytes
  (data (i32.const 80) "input does not fit in memory")             ;; 28 bytes

  ;; The worker's state, like a Python worker global. Every fresh instance
  ;; starts with factor 1; set_factor changes it for all later calls on this
  ;; worker's instance. If a call traps, the host throws the instance away,
  ;; builds a new one (factor back to 1) and runs set_factor again, so the
  ;; factor a task sees is always the one from --init-args.
  (global $factor (mut i64) (i64.const 1))

  ;; The parsed argument. A global rather than a second result keeps the module
  ;; valid for tools without multi-value support.
  (global $arg (mut i64) (i64.const 0))

  ;; JSON whitespace is space, tab, line feed and carriage return. The host
  ;; sends compact JSON, but a task should not depend on that.
  (func $is_ws (param $c i32) (result i32)
    (i32.or
      (i32.or (i32.eq (local.get $c) (i32.const 0x20))
              (i32.eq (local.get $c) (i32.const 0x09)))
      (i32.or (i32.eq (local.get $c) (i32.const 0x0a))
              (i32.eq (local.get $c) (i32.const 0x0d)))))

  ;; Returns the first position in [p, end) that is not whitespace (or end).
  (func $skip_ws (param $p i32) (param $end i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.eqz (call $is_ws (i32.load8_u (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; Parses the bytes [p, end) as `[ integer ]` with optional whitespace, and
  ;; stores the integer in $arg. Returns 1 on success, 0 if the text is
  ;; anything else: not an array, not exactly one element, a string, a
  ;; fraction or exponent (`1.5`, `1e3`), a leading zero (`01`, which JSON
  ;; forbids), or an integer outside the i64 range.
  (func $parse_one_int (param $p i32) (param $end i32) (result i32)
    (local $neg i32)
    (local $digits i32)
    (local $d i32)
    (local $acc i64)
    ;; '['
    (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x5b)) (then (return (i32.const 0))))
    (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
    ;; optional '-'
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2d))
          (then
            (local.set $neg (i32.const 1))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))))))
    ;; Digits. The value is accumulated as a NEGATIVE number, because i64 has
    ;; room for -9223372036854775808 but not for +9223372036854775808; this way
    ;; the whole range parses without a special case, and overflow is caught
    ;; before it happens instead of silently wrapping.
    (block $no_more_digits
      (loop $next_digit
        (br_if $no_more_digits (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 0x30)))
        ;; unsigned compare: bytes below '0' wrap to large values
        (br_if $no_more_digits (i32.gt_u (local.get $d) (i32.const 9)))
        ;; a digit after a leading 0 ("01") is not JSON
        (if (i32.and (i32.ne (local.get $digits) (i32.const 0))
                     (i64.eqz (local.get $acc)))
          (then (return (i32.const 0))))
        ;; acc*10 - d must stay >= i64::MIN (-922337203685477580 * 10 - 8)
        (if (i64.lt_s (local.get $acc) (i64.const -922337203685477580))
          (then (return (i32.const 0))))
        (if (i32.and (i64.eq (local.get $acc) (i64.const -922337203685477580))
                     (i32.gt_u (local.get $d) (i32.const 8)))
          (then (return (i32.const 0))))
        (local.set $acc (i64.sub (i64.mul (local.get $acc) (i64.const 10))
                                 (i64.extend_i32_u (local.get $d))))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next_digit)))
    (if (i32.eqz (local.get $digits)) (then (return (i32.const 0))))
    ;; ']' and nothing after it but whitespace. A ',' (second argument), '.'
    ;; or 'e' (not an integer) ends up here and is refused.
    (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x5d)) (then (return (i32.const 0))))
    (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
    (if (i32.ne (local.get $p) (local.get $end)) (then (return (i32.const 0))))
    ;; Without '-', flip the sign; +9223372036854775808 does not fit.
    (if (i32.eqz (local.get $neg))
      (then
        (if (i64.eq (local.get $acc) (i64.const 0x8000000000000000))
          (then (return (i32.const 0))))
        (local.set $acc (i64.sub (i64.const 0) (local.get $acc)))))
    (global.set $arg (local.get $acc))
    (i32.const 1))

  ;; Copies the call's input into memory at 160 and parses it with
  ;; $parse_one_int. Returns 1 on success, 0 for a malformed argument list, and
  ;; -1 when memory cannot grow enough to hold the input.
  (func $read_one_int (result i32)
    (local $len i32)
    (local $pages i32)
    (local.set $len (call $input_len))
    ;; Make room for 160 + len bytes before asking the host to copy: if the
    ;; destination did not fit, input_read would fail the call with an
    ;; out-of-bounds error. The sum is done in i64 so a huge len cannot wrap.
    (local.set $pages
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $len)) (i64.const 65695)) ;; 160 + 65535
          (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size)))
                    (i32.const -1))
          (then (return (i32.const -1))))))
    (call $input_read (i32.const 160))
    (call $parse_one_int (i32.const 160) (i32.add (i32.const 160) (local.get $len))))

  ;; Writes the decimal text of v (a valid JSON number) as the call's result.
  (func $output_i64 (param $v i64)
    (local $p i32)
    (local $mag i64)
    (local.set $p (i32.const 160))
    ;; The magnitude is treated as UNSIGNED: 0 - i64::MIN wraps back to
    ;; 0x8000000000000000, which is the right magnitude read unsigned.
    (local.set $mag (local.get $v))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then (local.set $mag (i64.sub (i64.const 0) (local.get $v)))))
    (loop $next_digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 0x30)
                 (i32.wrap_i64 (i64.rem_u (local.get $mag) (i64.const 10)))))
      (local.set $mag (i64.div_u (local.get $mag) (i64.const 10)))
      (br_if $next_digit (i64.ne (local.get $mag) (i64.const 0))))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p) (i32.const 0x2d))))
    (call $output_write (local.get $p) (i32.sub (i32.const 160) (local.get $p))))

  ;; The initializer: a `() -> i32` export like a task, named with
  ;; `--init set_factor`. Its input is the initargs array (`[]` when
  ;; --init-args is not given, which this one refuses). It sets no output:
  ;; an initializer is run for its effect on the instance, not for a result.
  ;; A non-zero return fails the whole run, with this message in the error.
  (func (export "set_factor") (result i32)
    (local $ok i32)
    (local.set $ok (call $read_one_int))
    (if (i32.eq (local.get $ok) (i32.const -1))
      (then
        (call $error_write (i32.const 80) (i32.const 28))
        (return (i32.const 1))))
    (if (i32.eqz (local.get $ok))
      (then
        (call $error_write (i32.const 40) (i32.const 39))
        (return (i32.const 1))))
    (global.set $factor (global.get $arg))
    (i32.const 0))

  ;; The task: 0 means success (result set with output_write); non-zero means
  ;; failure (message set with error_write). A bad argument is reported as an
  ;; error, not a trap: a trap would also fail the item, but it makes the
  ;; worker throw this instance away, build a new one and re-run set_factor,
  ;; which is wasted work for an ordinary input mistake.
  (func (export "scale") (result i32)
    (local $ok i32)
    (local.set $ok (call $read_one_int))
    (if (i32.eq (local.get $ok) (i32.const -1))
      (then
        (call $error_write (i32.const 80) (i32.const 28))
        (return (i32.const 1))))
    (if (i32.eqz (local.get $ok))
      (then
        (call $error_write (i32.const 0) (i32.const 34))
        (return (i32.const 1))))
    ;; i64.mul wraps on overflow: when x * factor is outside the i64 range the
    ;; answer is the product modulo 2^64, read as signed. A real task would
    ;; check the range and report an error instead; this example keeps to the
    ;; point and documents the limit.
    (call $output_i64 (i64.mul (global.get $arg) (global.get $factor)))
    (i32.const 0))
)
