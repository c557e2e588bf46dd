/* request.c - request/response on one channel: correlation ids in Node's wire shape, requests sent
 * (cp_channel_request) and served (cp_channel_serve), replies matched to their callbacks. The worker
 * pool (pool.c) is built on it. Platform-free: the OS is reached through os.h only. */
#include "request.h"
#include "channel.h"
#include "loop.h"
#include "pool_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending {
  uint64_t id;
  cp_reply_cb cb;
  void *ud;
  struct pending *next; /* hash chain */
} pending;

typedef struct rpc {
  cp_channel *ch; /* NULL once the channel is freed */
  uint64_t next_id;
  pending **tab; /* hash of pending requests by id, power-of-two size */
  size_t cap, count;
  bool requester;
  cp_bad_message_cb bad_cb;
  void *bad_ud;
  cp_serve_cb serve;
  void *serve_ud;
  size_t open_requests; /* served requests not answered yet (they point here) */
  cp_request_stats st;
  cp__buf out;  /* building outgoing messages */
  cp__buf text; /* a reply's result or error, NUL-terminated for the callback */
} rpc;

struct cp_request {
  rpc *r;
  size_t id_len;
  char id[]; /* the request's "id" member as raw JSON text */
};

static void rpc_free_if_unused(rpc *r) {
  if (r->ch || r->open_requests) return;
  for (size_t i = 0; i < r->cap; i++) {
    pending *p = r->tab[i];
    while (p) {
      pending *n = p->next;
      free(p);
      p = n;
    }
  }
  free(r->tab);
  cp__buf_free(&r->out);
  cp__buf_free(&r->text);
  free(r);
}

static void report_bad(rpc *r, cp_bad_message kind, const char *msg, size_t len) {
  switch (kind) {
  case CP_BAD_UNKNOWN_ID:
    r->st.unknown_id++;
    break;
  case CP_BAD_MALFORMED:
    r->st.malformed++;
    break;
  case CP_BAD_NOT_OBJECT:
    r->st.not_object++;
    break;
  case CP_BAD_NO_ID:
    r->st.no_id++;
    break;
  }
  if (r->bad_cb) r->bad_cb(r->ch, kind, msg, len, r->bad_ud);
}

static pending *pending_take(rpc *r, uint64_t id) {
  if (!r->cap) return NULL;
  for (pending **pp = &r->tab[id & (r->cap - 1)]; *pp; pp = &(*pp)->next) {
    if ((*pp)->id != id) continue;
    pending *p = *pp;
    *pp = p->next;
    r->count--;
    return p;
  }
  return NULL;
}

static bool pending_exists(const rpc *r, uint64_t id) {
  if (!r->cap) return false;
  for (pending *p = r->tab[id & (r->cap - 1)]; p; p = p->next)
    if (p->id == id) return true;
  return false;
}

static int pending_add(rpc *r, pending *p) {
  if (r->count + 1 > r->cap / 2) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    pending **tab = calloc(cap, sizeof *tab);
    if (!tab) return CP_ENOMEM;
    for (size_t i = 0; i < r->cap; i++) {
      pending *q = r->tab[i];
      while (q) {
        pending *n = q->next;
        q->next = tab[q->id & (cap - 1)];
        tab[q->id & (cap - 1)] = q;
        q = n;
      }
    }
    free(r->tab);
    r->tab = tab;
    r->cap = cap;
  }
  p->next = r->tab[p->id & (r->cap - 1)];
  r->tab[p->id & (r->cap - 1)] = p;
  r->count++;
  return 0;
}

static void reply_fail(cp_reply_cb cb, void *ud, int code, const char *why) {
  cp_reply rep = {.code = code, .error = why, .error_len = strlen(why), .attempts = 1, .exit_status = -1};
  cb(&rep, ud);
}

/* A reply whose id is one of ours: result, error string, or malformed. */
static void rpc_deliver_reply(rpc *r, pending *p, const cp__json_members *m, const char *msg, size_t len) {
  bool has_error = m->error.p && !(m->error.len == 4 && memcmp(m->error.p, "null", 4) == 0);
  cp_reply rep = {.code = CP_OK, .attempts = 1, .exit_status = -1};
  char *decoded = NULL;
  if (has_error && (m->result.p || m->error.p[0] != '"' ||
                    cp__json_string_decode(m->error, &decoded, &rep.error_len) != 0)) {
    r->st.failed++;
    report_bad(r, CP_BAD_MALFORMED, msg, len);
    reply_fail(p->cb, p->ud, CP_EIO,
               m->result.p ? "malformed reply: both \"result\" and \"error\""
                           : "malformed reply: \"error\" is not a string");
    return;
  }
  r->st.replied++;
  if (has_error) {
    rep.error = decoded;
  } else {
    const char *res = m->result.p ? m->result.p : "null";
    size_t n = m->result.p ? m->result.len : 4;
    r->text.len = 0;
    if (cp__buf_append(&r->text, res, n)) {
      r->st.replied--;
      r->st.failed++;
      reply_fail(p->cb, p->ud, CP_ENOMEM, "out of memory");
      return;
    }
    rep.result = r->text.data;
    rep.result_len = n;
  }
  p->cb(&rep, p->ud);
  free(decoded);
}

static void rpc_serve_one(rpc *r, const cp__json_members *m, const char *msg, size_t len) {
  cp_request *q = malloc(sizeof *q + m->id.len + 1);
  if (!q) return; /* the peer sees no reply, as with a worker that dies: its own timeout handles it */
  q->r = r;
  q->id_len = m->id.len;
  memcpy(q->id, m->id.p, m->id.len);
  q->id[m->id.len] = '\0';
  r->open_requests++;
  r->st.served++;
  r->serve(q, msg, len, r->serve_ud);
}

static bool rpc_on_message(cp_channel *ch, void *data, const char *msg, size_t len) {
  rpc *r = data;
  (void)ch;
  cp__json_members m;
  int kind = cp__json_members_of(msg, len, &m);
  if (kind == CP__JSON_BAD) {
    report_bad(r, CP_BAD_MALFORMED, msg, len);
    return false;
  }
  if (kind == CP__JSON_NOT_OBJECT) {
    report_bad(r, CP_BAD_NOT_OBJECT, msg, len);
    return false;
  }
  if (!m.id.p) {
    report_bad(r, CP_BAD_NO_ID, msg, len);
    return false;
  }
  uint64_t id = 0;
  bool ours = cp__json_u64(m.id, &id) && pending_exists(r, id);
  bool reply_shaped = m.result.p || m.error.p;
  /* {"id":N} alone answers our request N when we are not serving: JSON.stringify drops a result
   * that is undefined. */
  if (r->requester && (reply_shaped || (ours && !r->serve))) {
    pending *p = ours ? pending_take(r, id) : NULL;
    if (!p) {
      report_bad(r, CP_BAD_UNKNOWN_ID, msg, len);
      return true;
    }
    rpc_deliver_reply(r, p, &m, msg, len);
    free(p);
    return true;
  }
  if (r->serve && !reply_shaped) {
    rpc_serve_one(r, &m, msg, len);
    return true;
  }
  if (reply_shaped) {
    report_bad(r, CP_BAD_UNKNOWN_ID, msg, len);
    return true;
  }
  return false;
}

/* The channel closed: every pending request fails with CP_EPIPE. */
static void rpc_on_close(cp_channel *ch, void *data) {
  rpc *r = data;
  (void)ch;
  pending *list = NULL;
  for (size_t i = 0; i < r->cap; i++) {
    while (r->tab[i]) {
      pending *p = r->tab[i];
      r->tab[i] = p->next;
      p->next = list;
      list = p;
    }
  }
  r->count = 0;
  while (list) {
    pending *p = list;
    list = p->next;
    r->st.failed++;
    reply_fail(p->cb, p->ud, CP_EPIPE, "the channel closed before the reply came");
    free(p);
  }
}

static void rpc_on_destroy(cp_channel *ch, void *data) {
  rpc *r = data;
  (void)ch;
  r->ch = NULL;
  rpc_free_if_unused(r);
}

/* request.h */
void cp__request_forget(cp_channel *ch) {
  rpc *r = ch ? cp__channel_layer_data(ch) : NULL;
  if (!r) return;
  for (size_t i = 0; i < r->cap; i++) {
    while (r->tab[i]) {
      pending *p = r->tab[i];
      r->tab[i] = p->next;
      free(p);
    }
  }
  r->count = 0;
  r->bad_cb = NULL;
}

static rpc *rpc_of(cp_channel *ch) {
  rpc *r = cp__channel_layer_data(ch);
  if (r) return r;
  r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->ch = ch;
  r->next_id = 1;
  cp__channel_layer layer = {rpc_on_message, rpc_on_close, rpc_on_destroy, r};
  cp__channel_set_layer(ch, &layer);
  return r;
}

static bool channel_is_json(const cp_channel *ch) { return cp__channel_mode(ch) == CP_CHANNEL_JSON; }

int cp_channel_request(cp_channel *ch, const char *json, size_t len, cp_reply_cb cb, void *ud) {
  if (!ch || !cb || !json) return CP_EINVAL;
  if (!channel_is_json(ch)) return CP_EINVAL;
  cp__json_members m;
  if (cp__json_members_of(json, len, &m) != CP__JSON_OK || m.id.p) return CP_EINVAL;
  if (!cp_channel_connected(ch)) return CP_EPIPE;
  rpc *r = rpc_of(ch);
  if (!r) return CP_ENOMEM;
  pending *p = malloc(sizeof *p);
  if (!p) return CP_ENOMEM;
  p->id = r->next_id;
  p->cb = cb;
  p->ud = ud;
  char head[32];
  int hn = snprintf(head, sizeof head, "{\"id\":%llu", (unsigned long long)p->id);
  r->out.len = 0;
  int rc = cp__buf_append(&r->out, head, (size_t)hn);
  if (rc == 0 && m.empty)
    rc = cp__buf_append(&r->out, "}", 1);
  else if (rc == 0)
    rc = cp__buf_append(&r->out, ",", 1);
  if (rc == 0 && !m.empty) rc = cp__buf_append(&r->out, json + m.open, len - m.open);
  if (rc == 0) rc = pending_add(r, p);
  if (rc) {
    free(p);
    return rc;
  }
  rc = cp_channel_send(ch, r->out.data, r->out.len, NULL, NULL);
  if (rc) {
    free(pending_take(r, p->id));
    return rc;
  }
  r->next_id++;
  r->requester = true;
  r->st.sent++;
  return 0;
}

int cp_channel_on_bad_message(cp_channel *ch, cp_bad_message_cb cb, void *ud) {
  if (!ch) return CP_EINVAL;
  rpc *r = rpc_of(ch);
  if (!r) return CP_ENOMEM;
  r->bad_cb = cb;
  r->bad_ud = ud;
  return 0;
}

int cp_channel_request_stats(const cp_channel *ch, cp_request_stats *out) {
  if (!ch || !out) return CP_EINVAL;
  const rpc *r = cp__channel_layer_data(ch);
  if (r) {
    *out = r->st;
    out->pending = r->count;
  } else {
    memset(out, 0, sizeof *out);
  }
  return 0;
}

int cp_channel_serve(cp_channel *ch, cp_serve_cb handler, void *ud) {
  if (!ch || !channel_is_json(ch)) return CP_EINVAL;
  rpc *r = rpc_of(ch);
  if (!r) return CP_ENOMEM;
  r->serve = handler;
  r->serve_ud = ud;
  return 0;
}

static void request_release(cp_request *q) {
  rpc *r = q->r;
  free(q);
  r->open_requests--;
  rpc_free_if_unused(r);
}

/* Sends {"id":<id>,<member>:<value>} where value is raw JSON (result) or a string to escape. */
static int request_answer(cp_request *q, const char *member, const char *value, size_t len, bool raw) {
  rpc *r = q->r;
  if (!r->ch || !cp_channel_connected(r->ch)) {
    request_release(q);
    return CP_EPIPE;
  }
  r->out.len = 0;
  int rc = cp__buf_append(&r->out, "{\"id\":", 6);
  if (rc == 0) rc = cp__buf_append(&r->out, q->id, q->id_len);
  if (rc == 0) rc = cp__buf_append(&r->out, member, strlen(member));
  if (rc == 0) rc = raw ? cp__buf_append(&r->out, value, len) : cp__json_string_append(&r->out, value, len);
  if (rc == 0) rc = cp__buf_append(&r->out, "}", 1);
  if (rc == 0) rc = cp_channel_send(r->ch, r->out.data, r->out.len, NULL, NULL);
  request_release(q);
  return rc;
}

int cp_request_reply(cp_request *req, const char *result_json, size_t len) {
  if (!req || !result_json || !cp__json_valid(result_json, len)) return CP_EINVAL;
  return request_answer(req, ",\"result\":", result_json, len, true);
}

int cp_request_fail(cp_request *req, const char *message) {
  if (!req || !message) return CP_EINVAL;
  return request_answer(req, ",\"error\":", message, strlen(message), false);
}

cp_channel *cp_request_channel(const cp_request *req) { return req ? req->r->ch : NULL; }
