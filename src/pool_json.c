/* pool_json.c - a validating JSON scanner for the request layer: one pass over the text, spans into
 * it instead of a tree, a depth limit instead of unbounded recursion. */
#include "pool_json.h"

#include <stdlib.h>
#include <string.h>

typedef struct scan {
  const char *s;
  size_t n, i;
} scan;

static void skip_ws(scan *c) {
  while (c->i < c->n) {
    char ch = c->s[c->i];
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
    c->i++;
  }
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* A string token starting at c->i (which is '"'); sets *has_escape. */
static bool scan_string(scan *c, bool *has_escape) {
  c->i++;
  *has_escape = false;
  while (c->i < c->n) {
    unsigned char ch = (unsigned char)c->s[c->i++];
    if (ch == '"') return true;
    if (ch < 0x20) return false;
    if (ch != '\\') continue;
    *has_escape = true;
    if (c->i >= c->n) return false;
    char e = c->s[c->i++];
    if (e == 'u') {
      if (c->n - c->i < 4) return false;
      for (int k = 0; k < 4; k++)
        if (hexval(c->s[c->i + (size_t)k]) < 0) return false;
      c->i += 4;
    } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
      return false;
    }
  }
  return false;
}

static bool scan_digits(scan *c) {
  size_t start = c->i;
  while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') c->i++;
  return c->i > start;
}

static bool scan_number(scan *c) {
  if (c->s[c->i] == '-') c->i++;
  if (c->i >= c->n) return false;
  if (c->s[c->i] == '0')
    c->i++;
  else if (!scan_digits(c))
    return false;
  if (c->i < c->n && c->s[c->i] == '.') {
    c->i++;
    if (!scan_digits(c)) return false;
  }
  if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
    c->i++;
    if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) c->i++;
    if (!scan_digits(c)) return false;
  }
  return true;
}

static bool scan_literal(scan *c, const char *lit) {
  size_t l = strlen(lit);
  if (c->n - c->i < l || memcmp(c->s + c->i, lit, l) != 0) return false;
  c->i += l;
  return true;
}

static bool scan_value(scan *c, int depth, cp__json_members *top);

/* Whether the key token s[0..n) (quotes included) names `name`. */
static bool key_is(const char *s, size_t n, bool escaped, const char *name) {
  size_t l = strlen(name);
  if (!escaped) return n == l + 2 && memcmp(s + 1, name, l) == 0;
  char *k = NULL;
  size_t kl = 0;
  cp__json_span v = {s, n};
  if (cp__json_string_decode(v, &k, &kl)) return false;
  bool eq = kl == l && memcmp(k, name, l) == 0;
  free(k);
  return eq;
}

static bool scan_object(scan *c, int depth, cp__json_members *top) {
  c->i++; /* '{' */
  if (top) top->open = c->i;
  skip_ws(c);
  if (c->i < c->n && c->s[c->i] == '}') {
    c->i++;
    if (top) top->empty = true;
    return true;
  }
  for (;;) {
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != '"') return false;
    size_t ks = c->i;
    bool esc;
    if (!scan_string(c, &esc)) return false;
    size_t kn = c->i - ks;
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != ':') return false;
    c->i++;
    skip_ws(c);
    size_t vs = c->i;
    if (!scan_value(c, depth + 1, NULL)) return false;
    if (top) {
      cp__json_span v = {c->s + vs, c->i - vs};
      const char *k = c->s + ks;
      if (key_is(k, kn, esc, "id"))
        top->id = v;
      else if (key_is(k, kn, esc, "result"))
        top->result = v;
      else if (key_is(k, kn, esc, "error"))
        top->error = v;
    }
    skip_ws(c);
    if (c->i >= c->n) return false;
    if (c->s[c->i] == '}') {
      c->i++;
      return true;
    }
    if (c->s[c->i] != ',') return false;
    c->i++;
  }
}

static bool scan_array(scan *c, int depth) {
  c->i++; /* '[' */
  skip_ws(c);
  if (c->i < c->n && c->s[c->i] == ']') {
    c->i++;
    return true;
  }
  for (;;) {
    skip_ws(c);
    if (!scan_value(c, depth + 1, NULL)) return false;
    skip_ws(c);
    if (c->i >= c->n) return false;
    if (c->s[c->i] == ']') {
      c->i++;
      return true;
    }
    if (c->s[c->i] != ',') return false;
    c->i++;
  }
}

static bool scan_value(scan *c, int depth, cp__json_members *top) {
  if (depth > CP__JSON_MAX_DEPTH || c->i >= c->n) return false;
  bool esc;
  switch (c->s[c->i]) {
  case '{':
    return scan_object(c, depth, top);
  case '[':
    return scan_array(c, depth);
  case '"':
    return scan_string(c, &esc);
  case 't':
    return scan_literal(c, "true");
  case 'f':
    return scan_literal(c, "false");
  case 'n':
    return scan_literal(c, "null");
  default:
    return (c->s[c->i] == '-' || (c->s[c->i] >= '0' && c->s[c->i] <= '9')) && scan_number(c);
  }
}

bool cp__json_valid(const char *s, size_t n) {
  if (!s) return false;
  scan c = {s, n, 0};
  skip_ws(&c);
  if (!scan_value(&c, 0, NULL)) return false;
  skip_ws(&c);
  return c.i == n;
}

int cp__json_members_of(const char *s, size_t n, cp__json_members *m) {
  memset(m, 0, sizeof *m);
  if (!s) return CP__JSON_BAD;
  scan c = {s, n, 0};
  skip_ws(&c);
  bool obj = c.i < n && s[c.i] == '{';
  if (!scan_value(&c, 0, obj ? m : NULL)) {
    memset(m, 0, sizeof *m);
    return CP__JSON_BAD;
  }
  skip_ws(&c);
  if (c.i != n) {
    memset(m, 0, sizeof *m);
    return CP__JSON_BAD;
  }
  return obj ? CP__JSON_OK : CP__JSON_NOT_OBJECT;
}

bool cp__json_u64(cp__json_span v, uint64_t *out) {
  if (!v.p || v.len == 0 || v.len > 20) return false;
  if (v.len > 1 && v.p[0] == '0') return false;
  uint64_t x = 0;
  for (size_t i = 0; i < v.len; i++) {
    char ch = v.p[i];
    if (ch < '0' || ch > '9') return false;
    unsigned d = (unsigned)(ch - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  *out = x;
  return true;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static bool hex4(const char *p, size_t avail, uint32_t *out) {
  if (avail < 4) return false;
  uint32_t x = 0;
  for (int k = 0; k < 4; k++) {
    int h = hexval(p[k]);
    if (h < 0) return false;
    x = x << 4 | (uint32_t)h;
  }
  *out = x;
  return true;
}

int cp__json_string_decode(cp__json_span v, char **out, size_t *out_len) {
  *out = NULL;
  if (out_len) *out_len = 0;
  if (!v.p || v.len < 2 || v.p[0] != '"' || v.p[v.len - 1] != '"') return CP_EINVAL;
  const char *s = v.p + 1;
  size_t n = v.len - 2;
  char *o = malloc(n + 1); /* decoding never grows the text: \uXXXX (6) -> at most 3, pairs (12) -> 4 */
  if (!o) return CP_ENOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n;) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == '"') goto bad;
    if (ch != '\\') {
      o[j++] = (char)ch;
      i++;
      continue;
    }
    if (i + 1 >= n) goto bad;
    char e = s[i + 1];
    i += 2;
    switch (e) {
    case '"':
      o[j++] = '"';
      break;
    case '\\':
      o[j++] = '\\';
      break;
    case '/':
      o[j++] = '/';
      break;
    case 'b':
      o[j++] = '\b';
      break;
    case 'f':
      o[j++] = '\f';
      break;
    case 'n':
      o[j++] = '\n';
      break;
    case 'r':
      o[j++] = '\r';
      break;
    case 't':
      o[j++] = '\t';
      break;
    case 'u': {
      uint32_t cp;
      if (!hex4(s + i, n - i, &cp)) goto bad;
      i += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' && hex4(s + i + 2, n - i - 2, &lo) &&
            lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        } else {
          cp = 0xFFFD;
        }
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
      }
      j += put_utf8(o + j, cp);
      break;
    }
    default:
      goto bad;
    }
  }
  o[j] = '\0';
  *out = o;
  if (out_len) *out_len = j;
  return 0;
bad:
  free(o);
  return CP_EINVAL;
}

int cp__json_string_append(cp__buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  int rc = cp__buf_append(b, "\"", 1);
  size_t run = 0; /* bytes copied as they are, written in one append */
  for (size_t i = 0; i < n && rc == 0; i++) {
    unsigned char ch = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    if (ch == '"')
      esc = "\\\"";
    else if (ch == '\\')
      esc = "\\\\";
    else if (ch == '\n')
      esc = "\\n";
    else if (ch == '\r')
      esc = "\\r";
    else if (ch == '\t')
      esc = "\\t";
    else if (ch < 0x20) {
      u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[ch >> 4], u[5] = hex[ch & 15];
    } else {
      run++;
      continue;
    }
    if (run) rc = cp__buf_append(b, s + i - run, run);
    run = 0;
    if (rc == 0) rc = esc ? cp__buf_append(b, esc, strlen(esc)) : cp__buf_append(b, u, 6);
  }
  if (rc == 0 && run) rc = cp__buf_append(b, s + n - run, run);
  if (rc == 0) rc = cp__buf_append(b, "\"", 1);
  return rc;
}
