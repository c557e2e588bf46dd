/* fuzz_ipc_frame.c - libFuzzer target for the Windows channel's framing (src/ipc_frame.c: libuv's IPC
 * frames), on any platform since the reader and writer are pure byte code.
 *
 * Input: byte 0 seeds the read sizes, byte 1 picks the data_length limit, the rest is what arrives on
 * the pipe. The bytes are handed to cp__frame_strip() in chunks as reads would bring them (each chunk
 * in its own heap buffer, so ASan sees any access outside it), and the joined payload, the error and
 * the verdict at the end must equal a byte-at-a-time reference reader's. Then the same input, taken as
 * a payload, is framed with cp__frame_write() and must strip back to itself. */
#include "internal.h"
#include "ipc_frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref {
  uint64_t limit;
  unsigned char head[16];
  unsigned head_n;
  uint64_t skip, payload;
  int failed;
} ref;

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One byte through the reference reader: appends a payload byte to out, or fails. */
static void ref_byte(ref *r, unsigned char b, unsigned char *out, size_t *out_n) {
  if (r->failed) return;
  if (r->skip) {
    r->skip--;
    return;
  }
  if (r->payload) {
    r->payload--;
    out[(*out_n)++] = b;
    return;
  }
  r->head[r->head_n++] = b;
  if (r->head_n < 16) return;
  r->head_n = 0;
  uint32_t flags = rd32(r->head), len = rd32(r->head + 8), r2 = rd32(r->head + 12);
  bool valid_flags = flags == 0 || flags == 1 || flags == 2 || flags == 3 || flags == 6 || flags == 7;
  if (!valid_flags || r2 != 0 || (!(flags & 1) && len != 0)) {
    r->failed = CP_EPROTO;
    return;
  }
  if (len > r->limit) {
    r->failed = CP_ENOBUFS;
    return;
  }
  r->skip = flags & 2 ? 632 : 0;
  r->payload = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  unsigned seed = data[0];
  static const uint64_t limits[] = {0, 1, 16, 100, 1000, 65536};
  uint64_t limit = limits[data[1] % (sizeof limits / sizeof limits[0])];
  const unsigned char *wire = data + 2;
  size_t n = size - 2;

  /* The reference, byte by byte. */
  ref rf = {.limit = limit ? limit : UINT32_MAX};
  unsigned char *want = malloc(n + 1);
  size_t want_n = 0;
  if (!want) abort();
  for (size_t i = 0; i < n; i++) ref_byte(&rf, wire[i], want, &want_n);
  int want_end = rf.failed ? rf.failed : (rf.head_n || rf.skip ? CP_EPROTO : 0);

  /* The reader under test, in chunks. */
  cp__frame_reader fr;
  cp__frame_reader_init(&fr, limit);
  unsigned char *got = malloc(n + 1);
  size_t got_n = 0;
  int err = 0;
  if (!got) abort();
  for (size_t off = 0; off < n;) {
    seed = seed * 1103515245u + 12345u;
    size_t chunk = 1 + (seed >> 16) % 700;
    if (chunk > n - off) chunk = n - off;
    char *buf = malloc(chunk);
    if (!buf) abort();
    memcpy(buf, wire + off, chunk);
    size_t o = 0, l = 0;
    int rc = cp__frame_strip(&fr, buf, chunk, &o, &l);
    if (l && (o > chunk || l > chunk - o)) abort();
    memcpy(got + got_n, buf + o, l);
    got_n += l;
    free(buf);
    off += chunk;
    if (rc) {
      err = rc;
      break; /* the stream ends at an error */
    }
  }
  if (err != rf.failed) abort();
  if (got_n != want_n || memcmp(got, want, want_n) != 0) abort();
  if (cp__frame_end(&fr) != want_end) abort();
  free(want);
  free(got);

  /* Round trip: the input as a payload, framed, strips back to itself. */
  size_t framed_n = n + cp__frame_count(n) * CP__FRAME_HEADER;
  char *framed = malloc(framed_n + 1);
  if (!framed) abort();
  if (cp__frame_write(framed, wire, n) != framed_n) abort();
  cp__frame_reader back;
  cp__frame_reader_init(&back, 0);
  size_t o = 0, l = 0;
  if (cp__frame_strip(&back, framed, framed_n, &o, &l) != 0) abort();
  if (l != n || (n && memcmp(framed + o, wire, n) != 0)) abort();
  if (cp__frame_end(&back) != 0) abort();
  free(framed);
  return 0;
}
