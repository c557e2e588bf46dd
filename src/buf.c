/* buf.c - a growable byte buffer with geometric growth (no quadratic copies on long captures). */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int cp__buf_reserve(cp__buf *b, size_t extra) {
  if (extra > SIZE_MAX - 1 - b->len) return CP_ENOMEM;
  size_t need = b->len + extra + 1; /* +1: always room for the terminating NUL */
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *p = realloc(b->data, cap);
  if (!p) return CP_ENOMEM;
  b->data = p;
  b->cap = cap;
  b->data[b->len] = '\0';
  return 0;
}

int cp__buf_append(cp__buf *b, const void *p, size_t n) {
  int rc = cp__buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void cp__buf_free(cp__buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
