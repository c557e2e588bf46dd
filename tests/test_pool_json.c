/* test_pool_json.c - the request layer's JSON scanner (src/pool_json.c) as unit tests: which texts are
 * one JSON value and which are not (numbers, literals, strings and their escapes, nesting and its
 * depth limit, trailing bytes), the members an object gives, ids as integers, strings decoded
 * (escapes, \u with upper and lower case hex, surrogate pairs, lone surrogates as U+FFFD) and
 * encoded. The end-to-end pool and request suites drive it with well-formed traffic; here every rule
 * is pinned. Linked against the static library (internal functions). */
#include "cptest.h"

#include "pool_json.h"

static bool valid(const char *s) { return cp__json_valid(s, strlen(s)); }

static void json_valid_and_invalid_texts(void **state) {
  (void)state;
  static const char *const good[] = {
      "0", "-0", "12", "-12", "1.5", "-0.25", "1e3", "1E3", "1e+3", "1e-3", "2.5E-10", " 7 ", "\t\r\n7\n",
      "true", "false", "null", "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u00E9\\uABCD\"",
      "[]", "[ ]", "[1,2,[3]]", "{}", "{ }", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
      "\"\xc3\xa9\"", /* UTF-8 passes as it is */
  };
  static const char *const bad[] = {
      "", " ", "-", "01x", "1.", "1.e3", ".5", "1e", "1e+", "+1", "--1", "tru", "truex", "fals", "nul",
      "nulL", "\"", "\"abc", "\"\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"a\nb\"", "[", "[1,", "[1 2]",
      "[1,]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{1:2}", "{\"a\":1", "1 2",
      "{}x", "x", "]", "}",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!valid(good[i])) fail_msg("valid JSON refused: [%s]", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (valid(bad[i])) fail_msg("invalid JSON accepted: [%s]", bad[i]);
  assert_false(cp__json_valid(NULL, 0));
  /* The length bounds the text: nothing past it is read. */
  assert_true(cp__json_valid("123456", 3));
  assert_false(cp__json_valid("\"abc\"", 4));
  assert_false(cp__json_valid("true", 3));
}

static void json_depth_is_limited(void **state) {
  (void)state;
  enum { DEEP = CP__JSON_MAX_DEPTH + 2 };
  char *s = malloc(2 * DEEP + 1);
  assert_non_null(s);
  for (int depth = CP__JSON_MAX_DEPTH; depth <= CP__JSON_MAX_DEPTH + 1; depth++) {
    size_t n = 0;
    for (int i = 0; i <= depth; i++) s[n++] = '[';
    for (int i = 0; i <= depth; i++) s[n++] = ']';
    s[n] = '\0';
    /* depth counts the levels inside the outermost value */
    assert_int_equal(cp__json_valid(s, n), depth <= CP__JSON_MAX_DEPTH);
  }
  free(s);
}

static void json_members_of_an_object(void **state) {
  (void)state;
  cp__json_members m;
  const char *t = "{\"id\":7,\"x\":[1,{\"id\":9}],\"result\":{\"a\":\"b\"},\"error\":null}";
  assert_int_equal(cp__json_members_of(t, strlen(t), &m), CP__JSON_OK);
  assert_int_equal(m.id.len, 1);
  assert_memory_equal(m.id.p, "7", 1);
  assert_int_equal(m.result.len, 9);
  assert_memory_equal(m.result.p, "{\"a\":\"b\"}", 9);
  assert_int_equal(m.error.len, 4);
  assert_int_equal(m.open, 1);
  assert_false(m.empty);

  /* A name written with escapes is the same name; the last one wins, as JSON.parse. */
  t = " {\"\\u0069d\":1, \"i\\u0064\":2, \"res\\u0075lt\":3, \"\\u0065rror\":4, \"\\u0078\":5} ";
  assert_int_equal(cp__json_members_of(t, strlen(t), &m), CP__JSON_OK);
  assert_memory_equal(m.id.p, "2", 1);
  assert_memory_equal(m.result.p, "3", 1);
  assert_memory_equal(m.error.p, "4", 1);
  assert_int_equal(m.open, 2);

  t = "{}";
  assert_int_equal(cp__json_members_of(t, 2, &m), CP__JSON_OK);
  assert_true(m.empty);
  assert_null(m.id.p);

  assert_int_equal(cp__json_members_of("[1]", 3, &m), CP__JSON_NOT_OBJECT);
  assert_int_equal(cp__json_members_of("\"s\"", 3, &m), CP__JSON_NOT_OBJECT);
  assert_int_equal(cp__json_members_of("{\"id\":1", 7, &m), CP__JSON_BAD);
  assert_null(m.id.p); /* nothing half-filled */
  assert_int_equal(cp__json_members_of("{\"id\":1} 2", 10, &m), CP__JSON_BAD);
  assert_null(m.id.p);
  assert_int_equal(cp__json_members_of(NULL, 0, &m), CP__JSON_BAD);
}

static void json_u64_ids(void **state) {
  (void)state;
  static const struct {
    const char *s;
    bool ok;
    uint64_t v;
  } cases[] = {
      {"0", true, 0},
      {"42", true, 42},
      {"18446744073709551615", true, UINT64_MAX},
      {"18446744073709551616", false, 0}, /* past UINT64_MAX */
      {"99999999999999999999", false, 0},
      {"123456789012345678901", false, 0}, /* 21 digits */
      {"01", false, 0},
      {"-1", false, 0},
      {"1.0", false, 0},
      {"1e3", false, 0},
      {"\"1\"", false, 0},
      {"", false, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    cp__json_span sp = {cases[i].s, strlen(cases[i].s)};
    bool ok = cp__json_u64(sp, &v);
    if (ok != cases[i].ok) fail_msg("cp__json_u64(%s) = %d", cases[i].s, ok);
    if (ok) assert_true(v == cases[i].v);
  }
  cp__json_span none = {NULL, 0};
  uint64_t v;
  assert_false(cp__json_u64(none, &v));
}

static void json_string_decode(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
    size_t out_len;
  } cases[] = {
      {"\"\"", "", 0},
      {"\"plain\"", "plain", 5},
      {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8},
      {"\"\\u0041\\u00e9\\u00E9\\u20AC\"", "A\xc3\xa9\xc3\xa9\xe2\x82\xac", 8},
      {"\"\\u0000x\"", "\0x", 2},
      {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4}, /* a surrogate pair */
      {"\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4},
      {"\"\\ud83dx\"", "\xef\xbf\xbdx", 4},          /* a high surrogate alone */
      {"\"\\ud83d\\u0041\"", "\xef\xbf\xbd" "A", 4}, /* followed by no low one */
      {"\"\\ude00\"", "\xef\xbf\xbd", 3},            /* a low surrogate alone */
      {"\"\\ud83d\\uZZZZ\"", NULL, 0},               /* a bad \u after a high surrogate */
      {"\"\\q\"", NULL, 0},
      {"\"\\u12\"", NULL, 0},
      {"\"\\u12g4\"", NULL, 0},
      {"\"a\\\"", NULL, 0},   /* the escape takes the closing quote */
      {"\"a\"b\"", NULL, 0},  /* a raw quote inside */
      {"\"a\nb\"", NULL, 0},  /* a raw control character */
      {"\"x", NULL, 0},
      {"x\"", NULL, 0},
      {"\"", NULL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cp__json_span sp = {cases[i].in, strlen(cases[i].in)};
    char *out = (char *)"untouched";
    size_t len = 99;
    int rc = cp__json_string_decode(sp, &out, &len);
    if (!cases[i].out) {
      if (rc != CP_EINVAL) fail_msg("decode(%s): rc %d, want CP_EINVAL", cases[i].in, rc);
      assert_null(out);
      assert_int_equal(len, 0);
      continue;
    }
    if (rc != 0) fail_msg("decode(%s): rc %d", cases[i].in, rc);
    assert_int_equal(len, cases[i].out_len);
    assert_memory_equal(out, cases[i].out, len);
    assert_int_equal(out[len], '\0');
    free(out);
  }
  char *out;
  cp__json_span none = {NULL, 0};
  assert_int_equal(cp__json_string_decode(none, &out, NULL), CP_EINVAL);
  cp__json_span ok = {"\"ab\"", 4};
  assert_int_equal(cp__json_string_decode(ok, &out, NULL), 0); /* the length is optional */
  assert_string_equal(out, "ab");
  free(out);
}

static void json_string_encode_round_trips(void **state) {
  (void)state;
  static const char raw[] = "q\"b\\n\nr\rt\tc\x01\x1f" "end\xc3\xa9";
  cp__buf b = {0};
  assert_int_equal(cp__json_string_append(&b, raw, sizeof raw - 1), 0);
  static const char want[] = "\"q\\\"b\\\\n\\nr\\rt\\tc\\u0001\\u001fend\xc3\xa9\"";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.data, want, b.len);
  assert_true(cp__json_valid(b.data, b.len));
  char *back;
  size_t len;
  cp__json_span sp = {b.data, b.len};
  assert_int_equal(cp__json_string_decode(sp, &back, &len), 0);
  assert_int_equal(len, sizeof raw - 1);
  assert_memory_equal(back, raw, len);
  free(back);
  cp__buf_free(&b);

  cp__buf e = {0};
  assert_int_equal(cp__json_string_append(&e, "", 0), 0);
  assert_int_equal(e.len, 2);
  assert_memory_equal(e.data, "\"\"", 2);
  cp__buf_free(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(json_valid_and_invalid_texts), cmocka_unit_test(json_depth_is_limited),
      cmocka_unit_test(json_members_of_an_object),    cmocka_unit_test(json_u64_ids),
      cmocka_unit_test(json_string_decode),           cmocka_unit_test(json_string_encode_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
