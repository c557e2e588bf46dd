/* json_writer.c - JSON strings from arbitrary bytes (see json_writer.h). */
#include "json_writer.h"

#include <string.h>

static int in_range(unsigned char b, unsigned char lo, unsigned char hi) { return b >= lo && b <= hi; }

size_t json_utf8_sequence_length(const unsigned char *p, size_t n) {
  if (n == 0) return 0;
  unsigned char b = p[0];
  if (b < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
  if (in_range(b, 0xC2, 0xDF)) {
    len = 2;
  } else if (in_range(b, 0xE0, 0xEF)) {
    len = 3;
    if (b == 0xE0) lo = 0xA0; /* below: overlong */
    if (b == 0xED) hi = 0x9F; /* above: UTF-16 surrogates */
  } else if (in_range(b, 0xF0, 0xF4)) {
    len = 4;
    if (b == 0xF0) lo = 0x90; /* below: overlong */
    if (b == 0xF4) hi = 0x8F; /* above: past U+10FFFF */
  } else {
    return 0; /* a continuation byte, C0/C1 (overlong) or F5..FF */
  }
  if (n < len || !in_range(p[1], lo, hi)) return 0;
  for (size_t i = 2; i < len; i++)
    if (!in_range(p[i], 0x80, 0xBF)) return 0;
  return len;
}

void json_write_string(FILE *f, const char *data, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)data;
  size_t i = 0, run = 0; /* p[run..i) is text to copy unchanged */
  putc('"', f);
  while (i < len) {
    unsigned char b = p[i];
    size_t seq = json_utf8_sequence_length(p + i, len - i);
    if (seq > 1 || (seq == 1 && b >= 0x20 && b != '"' && b != '\\' && b != 0x7F)) {
      i += seq;
      continue;
    }
    if (i > run) fwrite(p + run, 1, i - run, f);
    if (seq == 0) {
      fputs("\\ufffd", f);
    } else if (b == '"' || b == '\\') {
      putc('\\', f);
      putc(b, f);
    } else {
      char esc[7] = {'\\', 'u', '0', '0', hex[b >> 4], hex[b & 15], 0};
      fputs(esc, f);
    }
    run = ++i;
  }
  if (i > run) fwrite(p + run, 1, i - run, f);
  putc('"', f);
}

void json_write_cstring_or_null(FILE *f, const char *s) {
  if (s)
    json_write_string(f, s, strlen(s));
  else
    fputs("null", f);
}
