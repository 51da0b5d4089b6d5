;; square.wat: an rpool task module written by hand, with no SDK.
;;
;; Task `square`: receives `[x]` (the JSON array of its positional arguments),
;; where x is an integer that fits in a signed 64-bit number, and answers x*x as
;; JSON text. Anything else (`["a"]`, `[1,2]`, `[1.5]`, `[]`) fails the item with
;; the message "square expects one integer argument".
;;
;; Run it (rpool-wasm accepts the .wat text directly):
;;   echo '[1, 2, 3, -12]' > inputs.json
;;   rpool-wasm run guests/wat/square.wat --map inputs.json
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
  ;;     0 ..  79  constant error messages
  ;;    96 .. 127  scratch for the decimal text of the result (at most 20
  ;;               bytes), written backwards so that it ends at offset 128
  ;;   128 ..      the call's input, however long it is (memory grows for it)
  (data (i32.const 0)  "square expects one integer argument")  ;; 35 bytes
  (data (i32.const 40) "input does not fit in memory")         ;; 28 bytes

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

  ;; Copies the call's input into memory at 128 and parses it with
  ;; $parse_one_int. Returns 1 on success, 0 for a malformed argument list, and
  ;; -1 when memory cannot grow enough to hold the input.
  (func $read_one_int (result i32)
    (local $len i32)
    (local $pages i32)
    (local.set $len (call $input_len))
    ;; Make room for 128 + len bytes before asking the host to copy: if the
    ;; destination did not fit, input_read would fail the call with an
    ;; out-of-bounds error. The sum is done in i64 so a huge len cannot wrap.
    (local.set $pages
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $len)) (i64.const 65663)) ;; 128 + 65535
          (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size)))
                    (i32.const -1))
          (then (return (i32.const -1))))))
    (call $input_read (i32.const 128))
    (call $parse_one_int (i32.const 128) (i32.add (i32.const 128) (local.get $len))))

  ;; Writes the decimal text of v (a valid JSON number) as the call's result.
  (func $output_i64 (param $v i64)
    (local $p i32)
    (local $mag i64)
    (local.set $p (i32.const 128))
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
    (call $output_write (local.get $p) (i32.sub (i32.const 128) (local.get $p))))

  ;; The task: `() -> i32`, like every rpool task. 0 means success (result set
  ;; with output_write); non-zero means failure (message set with error_write).
  ;; A bad argument is reported as an error, not a trap: a trap would also fail
  ;; the item, but it makes the worker throw this instance away and build a
  ;; new one, which is wasted work for an ordinary input mistake.
  (func (export "square") (result i32)
    (local $ok i32)
    (local.set $ok (call $read_one_int))
    (if (i32.eq (local.get $ok) (i32.const -1))
      (then
        (call $error_write (i32.const 40) (i32.const 28))
        (return (i32.const 1))))
    (if (i32.eqz (local.get $ok))
      (then
        (call $error_write (i32.const 0) (i32.const 35))
        (return (i32.const 1))))
    ;; i64.mul wraps on overflow: for |x| > 3037000499 the answer is x*x modulo
    ;; 2^64, read as signed (it may even come out negative). A real task would
    ;; check the range and report an error instead; this example keeps to the
    ;; point and documents the limit.
    (call $output_i64 (i64.mul (global.get $arg) (global.get $arg)))
    (i32.const 0))
)
