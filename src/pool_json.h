/* pool_json.h - the little JSON the request layer needs: validate a text, find the top-level "id",
 * "result" and "error" members of an object, read an id, decode and encode strings. Never reads past
 * the given length; bad input is an error code, never a crash. */
#ifndef CP_POOL_JSON_H
#define CP_POOL_JSON_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of the input: p == NULL means absent. */
typedef struct cp__json_span {
  const char *p;
  size_t len;
} cp__json_span;

/* The members of an object the request layer looks at (the last one wins when a name repeats, as in
 * JSON.parse). `open` is the offset just after the object's '{', `empty` whether it has no member. */
typedef struct cp__json_members {
  cp__json_span id, result, error;
  size_t open;
  bool empty;
} cp__json_members;

#define CP__JSON_OK         0
#define CP__JSON_NOT_OBJECT 1 /* valid JSON, but not an object */
#define CP__JSON_BAD        2 /* not one JSON text (or nested deeper than CP__JSON_MAX_DEPTH) */

#define CP__JSON_MAX_DEPTH 512

/* Checks that s[0..n) is exactly one JSON value with optional whitespace around it. */
bool cp__json_valid(const char *s, size_t n);

/* Checks s[0..n) and, when it is an object, fills *m. Returns CP__JSON_OK, CP__JSON_NOT_OBJECT or
 * CP__JSON_BAD. */
int cp__json_members_of(const char *s, size_t n, cp__json_members *m);

/* Reads a span holding a non-negative integer written without sign, fraction or exponent (the ids
 * the library assigns). False for anything else or a value past UINT64_MAX. */
bool cp__json_u64(cp__json_span v, uint64_t *out);

/* Decodes a JSON string token (quotes included) into a new NUL-terminated UTF-8 string. CP_EINVAL
 * when the span is not a string, CP_ENOMEM. Unpaired surrogates become U+FFFD. */
int cp__json_string_decode(cp__json_span v, char **out, size_t *out_len);

/* Appends s[0..n) to b as a JSON string token (quotes, escapes for '"', '\\' and control
 * characters). */
int cp__json_string_append(cp__buf *b, const char *s, size_t n);

#endif /* CP_POOL_JSON_H */
