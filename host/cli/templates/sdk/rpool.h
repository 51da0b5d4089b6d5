/*
 * rpool.h: write rpool task modules (task ABI v1, docs/abi.md) in C.
 *
 * A single header, no library to link. It gives you:
 *   - the four `rpool` imports, declared so that the linker imports them from
 *     the module `rpool` (without import_module they would come from `env`,
 *     which the host refuses);
 *   - RPOOL_TASK(name), which defines an exported `() -> i32` task function;
 *   - rpool_input(), the call's input as NUL-terminated text;
 *   - a small JSON reader for what tasks receive: arrays and numbers, so `[x]`,
 *     `[a, b]` and `[[1, 2], 3]` (rpool_json_*), plus rpool_args_i64 and
 *     rpool_args_f64 for the common "array of n numbers" case;
 *   - a JSON writer for results: integers, floats, strings, null and arrays
 *     (rpool_out_*), plus one-call rpool_return_* helpers;
 *   - rpool_fail(fmt, ...), which sets the item's error message and returns 1.
 *
 * Build a task module as a WASI reactor with Debian's clang and wasi-libc
 * (`apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`):
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c -o tasks.wasm tasks.c
 * guests/c/ is a complete example with its build.sh.
 *
 * Everything is `static`: include this header in one source file per module.
 */
#ifndef RPOOL_H
#define RPOOL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define RPOOL_UNUSED __attribute__((unused))
#else
#define RPOOL_UNUSED
#endif

/* ---- The ABI v1 imports ------------------------------------------------ */

#define RPOOL_IMPORT(name) __attribute__((import_module("rpool"), import_name(name)))
RPOOL_IMPORT("input_len") int32_t rpool_input_len(void);
RPOOL_IMPORT("input_read") void rpool_input_read(void *dst);
RPOOL_IMPORT("output_write") void rpool_output_write(const void *ptr, int32_t len);
RPOOL_IMPORT("error_write") void rpool_error_write(const void *ptr, int32_t len);

/* Defines the exported task (or initializer) `name`, of type `() -> i32`:
 *   RPOOL_TASK(square) { ... return rpool_return_i64(x * x); }
 * Return 0 after writing the result, or rpool_fail(...) on failure. */
#define RPOOL_TASK(name) __attribute__((export_name(#name))) int32_t name(void)

/* ---- Errors ------------------------------------------------------------ */

/* Sets the item's error message (printf-style) and returns 1, so that a task
 * can `return rpool_fail("Cannot process %lld", (long long)x);`. */
static RPOOL_UNUSED __attribute__((format(printf, 1, 2))) int32_t rpool_fail(const char *fmt, ...) {
    char small[256];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        /* An encoding error in the format: the format itself says more than nothing. */
        rpool_error_write(fmt, (int32_t)strlen(fmt));
    } else if ((size_t)n < sizeof small) {
        rpool_error_write(small, n);
    } else {
        /* Long messages are worth a heap allocation; if there is no memory left,
         * the truncated one is still better than none. */
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            rpool_error_write(big, n);
            free(big);
        } else {
            rpool_error_write(small, (int32_t)(sizeof small - 1));
        }
    }
    va_end(again);
    return 1;
}

/* ---- Input ------------------------------------------------------------- */

/* The current call's input (UTF-8 JSON: the array of the call's arguments),
 * NUL-terminated, with its length in *len if len is not NULL. The buffer is
 * reused by the next call to rpool_input. NULL if memory ran out. */
static RPOOL_UNUSED const char *rpool_input(size_t *len) {
    static char *buf;
    static size_t cap;
    size_t n = (size_t)rpool_input_len();
    /* The host copies exactly input_len() bytes to the address we give it and
     * traps on an out-of-bounds destination, so make room first. */
    if (n + 1 > cap) {
        char *grown = realloc(buf, n + 1);
        if (!grown) return NULL;
        buf = grown;
        cap = n + 1;
    }
    rpool_input_read(buf);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* ---- Reading JSON ------------------------------------------------------ */

/* A cursor over JSON text. Errors are sticky: after the first malformed
 * token every call returns 0 and `ok` stays 0, so a task can read everything
 * and check once. Arrays nest up to 32 deep. */
typedef struct {
    const char *p, *end;
    uint32_t depth; /* open arrays */
    uint32_t fresh; /* bit d: the array at depth d has not had an element yet */
    int ok;
} rpool_json;

static RPOOL_UNUSED void rpool_json_init(rpool_json *j, const char *text, size_t len) {
    j->p = text;
    j->end = text + len;
    j->depth = 0;
    j->fresh = 0;
    j->ok = text != NULL;
}

static RPOOL_UNUSED int rpool__fail_json(rpool_json *j) {
    j->ok = 0;
    return 0;
}

/* JSON whitespace only: the host's JSON is compact, but a task should not
 * depend on that. */
static RPOOL_UNUSED void rpool__skip_ws(rpool_json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* Opens an array: consumes `[`. Then call rpool_json_next before each element. */
static RPOOL_UNUSED int rpool_json_array(rpool_json *j) {
    if (!j->ok || j->depth >= 32) return rpool__fail_json(j);
    rpool__skip_ws(j);
    if (j->p >= j->end || *j->p != '[') return rpool__fail_json(j);
    j->p++;
    j->fresh |= 1u << j->depth;
    j->depth++;
    return 1;
}

/* Inside an array: returns 1 if another element follows (consuming the `,`
 * before it), or 0 when the array ends (consuming the `]`) or on an error
 * (then `ok` is 0). */
static RPOOL_UNUSED int rpool_json_next(rpool_json *j) {
    if (!j->ok || j->depth == 0) return rpool__fail_json(j);
    uint32_t bit = 1u << (j->depth - 1);
    rpool__skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        j->depth--;
        return 0;
    }
    if (j->fresh & bit) {
        j->fresh &= ~bit;
    } else {
        if (j->p >= j->end || *j->p != ',') return rpool__fail_json(j);
        j->p++;
    }
    return 1;
}

/* Length of the JSON number at p (0 if there is none), following the JSON
 * grammar exactly: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
 * *integral is set when there is neither a fraction nor an exponent. */
static RPOOL_UNUSED size_t rpool__number_len(const char *p, const char *end, int *integral) {
    const char *s = p;
#define RPOOL__DIGIT(q) ((q) < end && *(q) >= '0' && *(q) <= '9')
    *integral = 1;
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') {
        p++;
    } else if (RPOOL__DIGIT(p)) {
        while (RPOOL__DIGIT(p)) p++;
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        p++;
        if (!RPOOL__DIGIT(p)) return 0;
        while (RPOOL__DIGIT(p)) p++;
        *integral = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!RPOOL__DIGIT(p)) return 0;
        while (RPOOL__DIGIT(p)) p++;
        *integral = 0;
    }
    /* `01` or `1x` is not a number followed by something else: it is not JSON. */
    if (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) return 0;
#undef RPOOL__DIGIT
    return (size_t)(p - s);
}

/* Reads an integer that fits in int64_t. A fraction or exponent (`1.5`,
 * `1e3`) or an out-of-range integer is an error, never a silent rounding. */
static RPOOL_UNUSED int rpool_json_i64(rpool_json *j, int64_t *out) {
    if (!j->ok) return 0;
    rpool__skip_ws(j);
    int integral;
    size_t n = rpool__number_len(j->p, j->end, &integral);
    if (n == 0 || !integral) return rpool__fail_json(j);
    const char *q = j->p;
    int neg = *q == '-';
    if (neg) q++;
    /* Accumulate as a negative number: int64_t holds -2^63 but not +2^63, so
     * this covers the whole range and catches overflow before it happens. */
    int64_t acc = 0;
    for (; q < j->p + n; q++) {
        int d = *q - '0';
        if (acc < (INT64_MIN + d) / 10) return rpool__fail_json(j);
        acc = acc * 10 - d;
    }
    if (!neg) {
        if (acc == INT64_MIN) return rpool__fail_json(j);
        acc = -acc;
    }
    j->p += n;
    *out = acc;
    return 1;
}

/* Reads any JSON number as a double (integers too). */
static RPOOL_UNUSED int rpool_json_f64(rpool_json *j, double *out) {
    if (!j->ok) return 0;
    rpool__skip_ws(j);
    int integral;
    size_t n = rpool__number_len(j->p, j->end, &integral);
    if (n == 0) return rpool__fail_json(j);
    /* strtod needs a NUL-terminated copy: the text need not end after the number. */
    char small[64];
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) return rpool__fail_json(j);
    memcpy(copy, j->p, n);
    copy[n] = '\0';
    char *stop;
    *out = strtod(copy, &stop);
    int whole = stop == copy + n;
    if (copy != small) free(copy);
    if (!whole) return rpool__fail_json(j);
    j->p += n;
    return 1;
}

/* Reads `null`. */
static RPOOL_UNUSED int rpool_json_null(rpool_json *j) {
    if (!j->ok) return 0;
    rpool__skip_ws(j);
    if (j->end - j->p < 4 || memcmp(j->p, "null", 4) != 0) return rpool__fail_json(j);
    j->p += 4;
    return 1;
}

/* Succeeds if only whitespace is left and every array was closed. */
static RPOOL_UNUSED int rpool_json_end(rpool_json *j) {
    if (!j->ok) return 0;
    rpool__skip_ws(j);
    if (j->p != j->end || j->depth != 0) return rpool__fail_json(j);
    return 1;
}

/* The call's input must be an array of exactly n integers (`[x]` for n = 1,
 * `[a, b]` for n = 2); stores them in out[0..n). Returns 1, or 0 if the input
 * is anything else (the task then reports its own error with rpool_fail). */
static RPOOL_UNUSED int rpool_args_i64(int64_t *out, size_t n) {
    size_t len;
    const char *text = rpool_input(&len);
    rpool_json j;
    rpool_json_init(&j, text, len);
    rpool_json_array(&j);
    for (size_t i = 0; i < n; i++) {
        if (!rpool_json_next(&j) || !rpool_json_i64(&j, &out[i])) return 0;
    }
    return !rpool_json_next(&j) && rpool_json_end(&j);
}

/* As rpool_args_i64, for an array of n numbers read as doubles. */
static RPOOL_UNUSED int rpool_args_f64(double *out, size_t n) {
    size_t len;
    const char *text = rpool_input(&len);
    rpool_json j;
    rpool_json_init(&j, text, len);
    rpool_json_array(&j);
    for (size_t i = 0; i < n; i++) {
        if (!rpool_json_next(&j) || !rpool_json_f64(&j, &out[i])) return 0;
    }
    return !rpool_json_next(&j) && rpool_json_end(&j);
}

/* ---- Writing JSON ------------------------------------------------------ */

/* A growing buffer of JSON text. Values written inside an array get their
 * commas automatically. Start with `rpool_out o = {0};`, finish with
 * rpool_out_send. Running out of memory is remembered and reported there. */
typedef struct {
    char *buf;
    size_t len, cap;
    uint32_t depth, fresh; /* as in rpool_json: for the commas */
    int oom;
} rpool_out;

static RPOOL_UNUSED void rpool_out_raw(rpool_out *o, const char *s, size_t n) {
    if (o->oom) return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap < o->len + n) cap *= 2;
        char *grown = realloc(o->buf, cap);
        if (!grown) {
            o->oom = 1;
            return;
        }
        o->buf = grown;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* Before each value: a comma unless it is the first element of its array. */
static RPOOL_UNUSED void rpool__out_sep(rpool_out *o) {
    if (o->depth == 0) return;
    uint32_t bit = 1u << (o->depth - 1);
    if (o->fresh & bit) {
        o->fresh &= ~bit;
    } else {
        rpool_out_raw(o, ",", 1);
    }
}

static RPOOL_UNUSED void rpool_out_i64(rpool_out *o, int64_t v) {
    char s[24];
    int n = snprintf(s, sizeof s, "%lld", (long long)v);
    rpool__out_sep(o);
    rpool_out_raw(o, s, (size_t)n);
}

/* The shortest decimal that reads back as the same double. JSON has no NaN
 * or infinity, so those are written as null (as JavaScript's JSON does). */
static RPOOL_UNUSED void rpool_out_f64(rpool_out *o, double v) {
    rpool__out_sep(o);
    if (v != v || v - v != 0) {
        rpool_out_raw(o, "null", 4);
        return;
    }
    char s[32];
    int n = 0;
    for (int digits = 15; digits <= 17; digits++) {
        n = snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtod(s, NULL) == v) break;
    }
    rpool_out_raw(o, s, (size_t)n);
}

static RPOOL_UNUSED void rpool_out_null(rpool_out *o) {
    rpool__out_sep(o);
    rpool_out_raw(o, "null", 4);
}

/* A UTF-8 string, escaped: quotes, backslashes and control characters. */
static RPOOL_UNUSED void rpool_out_str(rpool_out *o, const char *s) {
    rpool__out_sep(o);
    rpool_out_raw(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rpool_out_raw(o, esc, 2);
        } else if (c < 0x20) {
            char esc[7];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            rpool_out_raw(o, esc, 6);
        } else {
            rpool_out_raw(o, (const char *)&c, 1);
        }
    }
    rpool_out_raw(o, "\"", 1);
}

static RPOOL_UNUSED void rpool_out_array_begin(rpool_out *o) {
    rpool__out_sep(o);
    rpool_out_raw(o, "[", 1);
    if (o->depth < 32) o->fresh |= 1u << o->depth;
    o->depth++;
}

static RPOOL_UNUSED void rpool_out_array_end(rpool_out *o) {
    if (o->depth > 0) o->depth--;
    rpool_out_raw(o, "]", 1);
}

/* Makes the buffer the call's result and frees it. Returns 0 (success), or
 * fails the call if memory ran out while writing. */
static RPOOL_UNUSED int32_t rpool_out_send(rpool_out *o) {
    int oom = o->oom || o->depth != 0;
    if (!oom) rpool_output_write(o->buf, (int32_t)o->len);
    free(o->buf);
    *o = (rpool_out){0};
    return oom ? rpool_fail("the result could not be written (out of memory, or an unclosed array)") : 0;
}

/* One-call results: write the value as the call's result and return 0. */
static RPOOL_UNUSED int32_t rpool_return_i64(int64_t v) {
    rpool_out o = {0};
    rpool_out_i64(&o, v);
    return rpool_out_send(&o);
}

static RPOOL_UNUSED int32_t rpool_return_f64(double v) {
    rpool_out o = {0};
    rpool_out_f64(&o, v);
    return rpool_out_send(&o);
}

static RPOOL_UNUSED int32_t rpool_return_str(const char *s) {
    rpool_out o = {0};
    rpool_out_str(&o, s);
    return rpool_out_send(&o);
}

/* No output at all is JSON null to the host. */
static RPOOL_UNUSED int32_t rpool_return_null(void) { return 0; }

#endif /* RPOOL_H */
