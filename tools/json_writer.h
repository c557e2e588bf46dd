/* json_writer.h - writing JSON text to a stream: strings made from arbitrary bytes, so that any
 * child output becomes valid JSON (cprun's --json record). */
#ifndef CPRUN_JSON_WRITER_H
#define CPRUN_JSON_WRITER_H

#include <stddef.h>
#include <stdio.h>

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when the byte at p does not start one
 * that is complete within n bytes. Well-formed is Unicode's table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
size_t json_utf8_sequence_length(const unsigned char *p, size_t n);

/* Writes data[0..len) as one JSON string, quotes included. Well-formed UTF-8 passes through as is;
 * '"' and '\\' are backslash-escaped; control characters (U+0000-U+001F) and DEL as \u00XX; every
 * byte that is not part of a well-formed UTF-8 sequence becomes \ufffd, one per byte. The output is
 * pure ASCII apart from the UTF-8 passed through. */
void json_write_string(FILE *f, const char *data, size_t len);

/* A NUL-terminated string as a JSON string, or null when s is NULL. */
void json_write_cstring_or_null(FILE *f, const char *s);

#endif
