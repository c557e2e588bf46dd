/* test_ipc_frame.c - libuv's Windows IPC frames (src/ipc_frame.c) as unit tests on every platform: the
 * framing is pure byte code, used by the Windows channel stream and driven by tests/fuzz against a
 * reference reader; here each rule of ipc_frame.h is pinned by a case: frames written and stripped
 * back, headers and socket records split across reads, payloads joined in place, every malformed
 * header (CP_EPROTO), a frame over the limit (CP_ENOBUFS), a failed reader staying failed, a stream
 * cut inside a header or a socket record. Linked against the static library (internal functions). */
#include "cptest.h"

#include "ipc_frame.h"

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A header: flags, reserved1, data_length, reserved2. */
static size_t header(unsigned char *out, uint32_t flags, uint32_t r1, uint32_t len, uint32_t r2) {
  put32(out, flags);
  put32(out + 4, r1);
  put32(out + 8, len);
  put32(out + 12, r2);
  return CP__FRAME_HEADER;
}

/* Strips buf[0..n) in reads of `chunk` bytes; the joined payload goes to out. Returns the first error. */
static int strip_in_chunks(cp__frame_reader *r, unsigned char *buf, size_t n, size_t chunk, char *out,
                           size_t *out_n) {
  *out_n = 0;
  for (size_t i = 0; i < n; i += chunk) {
    size_t take = n - i < chunk ? n - i : chunk, off = 99, len = 99;
    int rc = cp__frame_strip(r, (char *)buf + i, take, &off, &len);
    assert_true(off + len <= take);
    memcpy(out + *out_n, buf + i + off, len);
    *out_n += len;
    if (rc) return rc;
  }
  return 0;
}

static void frame_write_then_strip_round_trip(void **state) {
  (void)state;
  static const char msg[] = "{\"hello\":\"world\"}\n";
  size_t n = sizeof msg - 1;
  assert_int_equal(cp__frame_count(0), 0);
  assert_int_equal(cp__frame_count(n), 1);
  char framed[64];
  size_t w = cp__frame_write(framed, msg, n);
  assert_int_equal(w, n + CP__FRAME_HEADER);
  assert_int_equal(cp__frame_write(framed + w, msg, 0), 0);
  assert_int_equal((unsigned char)framed[0], CP__FRAME_HAS_DATA);
  for (size_t chunk = 1; chunk <= w; chunk++) {
    unsigned char buf[64];
    memcpy(buf, framed, w);
    cp__frame_reader r;
    cp__frame_reader_init(&r, 0);
    char out[64];
    size_t got;
    assert_int_equal(strip_in_chunks(&r, buf, w, chunk, out, &got), 0);
    assert_int_equal(got, n);
    assert_memory_equal(out, msg, n);
    assert_int_equal(cp__frame_end(&r), 0);
  }
}

/* Several frames in one read: an empty frame, a socket record to skip, payloads joined in place. */
static void frame_payloads_join_across_frames_and_socket_records(void **state) {
  (void)state;
  unsigned char buf[2048];
  size_t n = 0;
  n += header(buf + n, CP__FRAME_HAS_DATA, 7 /* reserved1 is ignored */, 3, 0);
  memcpy(buf + n, "abc", 3), n += 3;
  n += header(buf + n, 0, 0, 0, 0); /* no data */
  n += header(buf + n, CP__FRAME_HAS_DATA | CP__FRAME_HAS_SOCKET | CP__FRAME_SOCKET_CONN, 0, 2, 0);
  memset(buf + n, 0xEE, CP__FRAME_SOCKET_INFO), n += CP__FRAME_SOCKET_INFO;
  memcpy(buf + n, "de", 2), n += 2;
  n += header(buf + n, CP__FRAME_HAS_SOCKET, 0, 0, 0); /* a socket record alone */
  memset(buf + n, 0xDD, CP__FRAME_SOCKET_INFO), n += CP__FRAME_SOCKET_INFO;
  n += header(buf + n, CP__FRAME_HAS_DATA, 0, 4, 0);
  memcpy(buf + n, "fghi", 4), n += 4;
  static const size_t chunks[] = {1, 5, 16, 17, 100, 700, 2048};
  for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
    unsigned char copy[2048];
    memcpy(copy, buf, n);
    cp__frame_reader r;
    cp__frame_reader_init(&r, 16);
    char out[64];
    size_t got;
    assert_int_equal(strip_in_chunks(&r, copy, n, chunks[k], out, &got), 0);
    assert_int_equal(got, 9);
    assert_memory_equal(out, "abcdefghi", 9);
    assert_int_equal(cp__frame_end(&r), 0);
  }
}

/* A malformed header fails the reader with the code the header's rule gives, the payload before it
 * is still handed over, and every later call gives the same error. */
static void frame_malformed_headers_fail(void **state) {
  (void)state;
  static const struct {
    uint32_t flags, len, r2;
    int code;
  } bad[] = {
      {0x08, 1, 0, CP_EPROTO},                       /* unknown flag */
      {CP__FRAME_SOCKET_CONN, 0, 0, CP_EPROTO},      /* "a connection" without a socket */
      {CP__FRAME_SOCKET_CONN | 1, 1, 0, CP_EPROTO},  /* the same, with data */
      {CP__FRAME_HAS_DATA, 1, 5, CP_EPROTO},         /* reserved2 not 0 */
      {0, 3, 0, CP_EPROTO},                          /* a length without the data flag */
      {CP__FRAME_HAS_DATA, 101, 0, CP_ENOBUFS},      /* over the limit */
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    unsigned char buf[64];
    size_t n = header(buf, CP__FRAME_HAS_DATA, 0, 2, 0);
    memcpy(buf + n, "ok", 2), n += 2;
    n += header(buf + n, bad[k].flags, 0, bad[k].len, bad[k].r2);
    memcpy(buf + n, "zz", 2), n += 2;
    cp__frame_reader r;
    cp__frame_reader_init(&r, 100);
    size_t off, len;
    assert_int_equal(cp__frame_strip(&r, (char *)buf, n, &off, &len), bad[k].code);
    assert_int_equal(len, 2);
    assert_memory_equal(buf + off, "ok", 2);
    assert_int_equal(cp__frame_strip(&r, (char *)buf, n, &off, &len), bad[k].code);
    assert_int_equal(len, 0);
    assert_int_equal(cp__frame_end(&r), bad[k].code);
  }
}

/* The end of the stream: cut inside a header or a socket record is CP_EPROTO; inside a payload it
 * is not (the bytes that came were given). */
static void frame_stream_cut_short(void **state) {
  (void)state;
  unsigned char buf[CP__FRAME_HEADER + 8];
  cp__frame_reader r;
  size_t off, len;

  header(buf, CP__FRAME_HAS_DATA, 0, 8, 0);
  cp__frame_reader_init(&r, 0);
  assert_int_equal(cp__frame_strip(&r, (char *)buf, 10, &off, &len), 0); /* 10 of 16 header bytes */
  assert_int_equal(len, 0);
  assert_int_equal(cp__frame_end(&r), CP_EPROTO);

  header(buf, CP__FRAME_HAS_SOCKET, 0, 0, 0);
  cp__frame_reader_init(&r, 0);
  assert_int_equal(cp__frame_strip(&r, (char *)buf, CP__FRAME_HEADER + 8, &off, &len), 0);
  assert_int_equal(cp__frame_end(&r), CP_EPROTO); /* 8 of the 632 record bytes */

  header(buf, CP__FRAME_HAS_DATA, 0, 8, 0);
  memcpy(buf + CP__FRAME_HEADER, "1234", 4);
  cp__frame_reader_init(&r, 0);
  assert_int_equal(cp__frame_strip(&r, (char *)buf, CP__FRAME_HEADER + 4, &off, &len), 0);
  assert_int_equal(len, 4);
  assert_memory_equal(buf + off, "1234", 4);
  assert_int_equal(cp__frame_end(&r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(frame_write_then_strip_round_trip),
      cmocka_unit_test(frame_payloads_join_across_frames_and_socket_records),
      cmocka_unit_test(frame_malformed_headers_fail),
      cmocka_unit_test(frame_stream_cut_short),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
