/* channel.c - the message channel: Node's JSON lines or length-prefixed binary frames over a stream,
 * with partial reads, many messages per read, bounded message size and queued sends. */
#include "channel.h"

#include <stdlib.h>
#include <string.h>

typedef struct send_req {
  cp_channel *ch;
  cp_send_cb cb;
  void *ud;
  struct send_req *next, *prev;
  size_t len;
  char data[];
} send_req;

struct cp_channel {
  cp_loop *loop;
  os_stream *s;
  cp_channel_mode mode;
  size_t max;
  cp__buf in; /* the start of a message whose end has not arrived */
  cp_channel_events ev;
  void *ud;
  send_req *sends; /* written or being written, not yet completed */
  bool connected;  /* as the user sees it: false from cp_channel_disconnect() on */
  bool ending;     /* disconnect asked while sends are pending */
  bool ref;
  bool freed; /* cp_channel_free() was called inside a callback */
  int in_cb;
  cp__defer disconnect_ev;
  bool disconnect_delivered;
  cp__channel_layer layer; /* request/response on top, if any */
};

static void channel_unlink_send(cp_channel *ch, send_req *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    ch->sends = r->next;
  if (r->next) r->next->prev = r->prev;
}

/* Closes the stream and fails every send still queued; on_disconnect follows on the next turn. */
static void channel_shutdown(cp_channel *ch) {
  if (!ch->s) return;
  os_stream_close(ch->s);
  ch->s = NULL;
  ch->connected = false;
  cp__buf_free(&ch->in);
  while (ch->sends) {
    send_req *r = ch->sends;
    channel_unlink_send(ch, r);
    if (r->cb && !ch->freed) r->cb(ch, CP_EPIPE, r->ud);
    free(r);
  }
  if (ch->ref) ch->loop->refs--;
  ch->ref = false;
}

static void channel_maybe_free(cp_channel *ch) {
  if (ch->freed && ch->in_cb == 0) {
    cp__defer_cancel(ch->loop, &ch->disconnect_ev);
    channel_shutdown(ch);
    if (ch->layer.on_destroy) ch->layer.on_destroy(ch, ch->layer.data);
    ch->loop->live--;
    free(ch);
  }
}

static void channel_deliver_disconnect(cp__defer *d) {
  cp_channel *ch = d->data;
  if (ch->disconnect_delivered) return;
  ch->disconnect_delivered = true;
  ch->in_cb++;
  if (ch->layer.on_close && !ch->freed) ch->layer.on_close(ch, ch->layer.data);
  if (ch->ev.on_disconnect && !ch->freed) ch->ev.on_disconnect(ch, ch->ud);
  ch->in_cb--;
  channel_maybe_free(ch);
}

static void channel_close_and_notify(cp_channel *ch) {
  channel_shutdown(ch);
  cp__defer_queue(ch->loop, &ch->disconnect_ev, channel_deliver_disconnect, ch);
}

static void channel_error(cp_channel *ch, int code, const char *what) {
  cp_error err = {0};
  cp__error_setf(&err, code, 0, "channel", NULL, "channel %s: %s", cp_err_name(code), what);
  if (ch->ev.on_error && !ch->freed) ch->ev.on_error(ch, &err, ch->ud);
  cp__error_clear(&err);
  channel_close_and_notify(ch);
}

static void deliver(cp_channel *ch, const char *msg, size_t len) {
  if (ch->layer.on_message && !ch->freed && ch->layer.on_message(ch, ch->layer.data, msg, len)) return;
  if (ch->ev.on_message && !ch->freed) ch->ev.on_message(ch, msg, len, ch->ud);
}

/* JSON: every '\n' ends a message. Whole messages inside `buf` are delivered from it directly. */
static void feed_json(cp_channel *ch, const char *buf, size_t n) {
  while (n && ch->s && !ch->freed) {
    const char *nl = memchr(buf, '\n', n);
    if (!nl) {
      if (ch->in.len + n > ch->max) {
        channel_error(ch, CP_ENOBUFS, "incoming message longer than the channel's limit");
        return;
      }
      if (cp__buf_append(&ch->in, buf, n)) {
        channel_error(ch, CP_ENOMEM, "out of memory");
        return;
      }
      return;
    }
    size_t part = (size_t)(nl - buf);
    if (ch->in.len) {
      if (ch->in.len + part > ch->max) {
        channel_error(ch, CP_ENOBUFS, "incoming message longer than the channel's limit");
        return;
      }
      if (cp__buf_append(&ch->in, buf, part)) {
        channel_error(ch, CP_ENOMEM, "out of memory");
        return;
      }
      size_t len = ch->in.len;
      ch->in.len = 0; /* reset before the callback: it may send or disconnect */
      deliver(ch, ch->in.data, len);
    } else if (part > ch->max) {
      {
        channel_error(ch, CP_ENOBUFS, "incoming message longer than the channel's limit");
        return;
      }
    } else {
      deliver(ch, buf, part);
    }
    buf = nl + 1;
    n -= part + 1;
  }
}

static uint32_t read_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Binary: a 4-byte little-endian length, then that many bytes. */
static void feed_binary(cp_channel *ch, const char *buf, size_t n) {
  while (n && ch->s && !ch->freed) {
    if (ch->in.len == 0 && n >= 4) {
      uint32_t len = read_le32((const unsigned char *)buf);
      if (len > ch->max) {
        channel_error(ch, CP_ENOBUFS, "incoming message longer than the channel's limit");
        return;
      }
      if (n - 4 >= len) { /* the whole frame is here: no copy */
        deliver(ch, buf + 4, len);
        buf += 4 + (size_t)len;
        n -= 4 + (size_t)len;
        continue;
      }
    }
    size_t need;
    if (ch->in.len < 4) {
      need = 4 - ch->in.len;
    } else {
      uint32_t len = read_le32((const unsigned char *)ch->in.data);
      need = 4 + (size_t)len - ch->in.len;
    }
    size_t take = n < need ? n : need;
    if (cp__buf_append(&ch->in, buf, take)) {
      channel_error(ch, CP_ENOMEM, "out of memory");
      return;
    }
    buf += take;
    n -= take;
    if (ch->in.len < 4) continue;
    uint32_t len = read_le32((const unsigned char *)ch->in.data);
    if (len > ch->max) {
      channel_error(ch, CP_ENOBUFS, "incoming message longer than the channel's limit");
      return;
    }
    if (ch->in.len == 4 + (size_t)len) {
      ch->in.len = 0;
      deliver(ch, ch->in.data + 4, len);
    } else if (cp__buf_reserve(&ch->in, 4 + (size_t)len - ch->in.len)) {
      {
        channel_error(ch, CP_ENOMEM, "out of memory");
        return;
      }
    }
  }
}

static void channel_on_read(os_stream *s, void *data, const char *buf, size_t n, int status) {
  cp_channel *ch = data;
  (void)s;
  ch->in_cb++;
  if (n == 0 && status == CP_ENOBUFS) { /* the transport refused a frame over the limit (Windows) */
    channel_error(ch, status, "incoming message longer than the channel's limit");
  } else if (n == 0 && status == CP_EPROTO) {
    channel_error(ch, status, "malformed frame from the peer");
  } else if (n == 0) {
    if (status < 0 && status != CP_EPIPE) {
      cp_error err = {0};
      cp__error_set(&err, status, 0, "read", NULL);
      if (ch->ev.on_error && !ch->freed) ch->ev.on_error(ch, &err, ch->ud);
      cp__error_clear(&err);
    }
    channel_close_and_notify(ch);
  } else if (ch->mode == CP_CHANNEL_JSON) {
    feed_json(ch, buf, n);
  } else {
    feed_binary(ch, buf, n);
  }
  ch->in_cb--;
  channel_maybe_free(ch);
}

static void channel_on_written(os_stream *s, void *data, int status) {
  send_req *r = data;
  cp_channel *ch = r->ch;
  (void)s;
  channel_unlink_send(ch, r);
  ch->in_cb++;
  if (r->cb && !ch->freed) {
    r->cb(ch, status, r->ud);
  } else if (status && status != CP_EPIPE && ch->ev.on_error && !ch->freed) {
    /* As Node: a message that could not be written, with no callback to tell, is an 'error'. */
    cp_error err = {0};
    cp__error_set(&err, status, 0, "write", NULL);
    ch->ev.on_error(ch, &err, ch->ud);
    cp__error_clear(&err);
  }
  free(r);
  if (status && ch->s)
    channel_close_and_notify(ch);
  else if (ch->ending && !ch->sends && ch->s)
    channel_close_and_notify(ch);
  ch->in_cb--;
  channel_maybe_free(ch);
}

int cp__channel_new(cp_loop *loop, os_stream *s, cp_channel_mode mode, size_t max_message,
                    const cp_channel_events *ev, void *ud, bool ref, cp_channel **out) {
  cp_channel *ch = calloc(1, sizeof *ch);
  if (!ch) return CP_ENOMEM;
  ch->loop = loop;
  ch->s = s;
  ch->mode = mode;
  ch->max = max_message ? max_message : CP_CHANNEL_MAX_DEFAULT;
  if (ev) ch->ev = *ev;
  ch->ud = ud;
  ch->connected = true;
  os_stream_carry_channel(s, ch->max);
  int rc = os_stream_read_start(s, channel_on_read, ch);
  if (rc) {
    free(ch);
    return rc;
  }
  ch->ref = ref;
  if (ref) loop->refs++;
  loop->live++;
  *out = ch;
  return 0;
}

void cp__channel_destroy(cp_channel *ch) {
  if (!ch) return;
  ch->freed = true;
  channel_maybe_free(ch);
}

/* Disconnects: at once, or once the queued messages are written. */
static void channel_end(cp_channel *ch) {
  ch->connected = false;
  if (ch->sends) {
    ch->ending = true; /* closes once the queued messages are written */
    os_stream_read_stop(ch->s);
    return;
  }
  channel_close_and_notify(ch);
}

int cp_channel_send(cp_channel *ch, const void *msg, size_t len, cp_send_cb cb, void *ud) {
  if (!ch || (!msg && len)) return CP_EINVAL;
  if (!ch->connected || ch->ending || !ch->s) return CP_EPIPE;
  if (len > ch->max) return CP_ENOBUFS;
  if (ch->mode == CP_CHANNEL_JSON && (len == 0 || memchr(msg, '\n', len))) return CP_EINVAL;
  if (ch->mode == CP_CHANNEL_BINARY && len > UINT32_MAX) return CP_ENOBUFS;
  size_t frame = ch->mode == CP_CHANNEL_JSON ? len + 1 : len + 4;
  unsigned char head[4] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8 & 0xff),
                           (unsigned char)(len >> 16 & 0xff), (unsigned char)(len >> 24 & 0xff)};
  os_iovec iov[2];
  if (ch->mode == CP_CHANNEL_JSON)
    iov[0] = (os_iovec){msg, len}, iov[1] = (os_iovec){"\n", 1};
  else
    iov[0] = (os_iovec){head, 4}, iov[1] = (os_iovec){msg, len};
  /* With no callback to call, a message the socket takes at once needs no copy, no request and no
   * turn of the loop (docs/performance.md); what it does not take is queued below as before. */
  size_t sent = 0;
  if (!cb && os_stream_try_write(ch->s, iov, 2, &sent) == 0 && sent == frame) return 0;
  send_req *r = malloc(sizeof *r + (frame - sent));
  if (!r) {
    if (sent) channel_end(ch); /* a part went: the frame is cut for good, the peer sees it end */
    return CP_ENOMEM;
  }
  r->ch = ch;
  r->cb = cb;
  r->ud = ud;
  r->len = frame - sent;
  size_t at = 0;
  for (int i = 0; i < 2; i++) { /* the part not sent yet */
    size_t skip = sent < iov[i].len ? sent : iov[i].len;
    memcpy(r->data + at, (const char *)iov[i].base + skip, iov[i].len - skip);
    at += iov[i].len - skip;
    sent -= skip;
  }
  int rc = os_stream_write(ch->s, r->data, r->len, channel_on_written, r);
  if (rc) {
    bool cut = r->len != frame;
    free(r);
    if (cut) channel_end(ch); /* as above */
    return rc;
  }
  r->prev = NULL;
  r->next = ch->sends;
  if (ch->sends) ch->sends->prev = r;
  ch->sends = r;
  return 0;
}

int cp_channel_disconnect(cp_channel *ch) {
  if (!ch) return CP_EINVAL;
  if (!ch->connected || !ch->s) return CP_EPIPE;
  channel_end(ch);
  return 0;
}

bool cp_channel_connected(const cp_channel *ch) { return ch && ch->connected && ch->s; }

void cp_channel_free(cp_channel *ch) { cp__channel_destroy(ch); }

int cp_channel_set_events(cp_channel *ch, const cp_channel_events *events, void *ud) {
  if (!ch) return CP_EINVAL;
  if (events)
    ch->ev = *events;
  else
    memset(&ch->ev, 0, sizeof ch->ev);
  ch->ud = ud;
  return 0;
}

void cp__channel_set_layer(cp_channel *ch, const cp__channel_layer *layer) {
  if (layer)
    ch->layer = *layer;
  else
    memset(&ch->layer, 0, sizeof ch->layer);
}

void *cp__channel_layer_data(const cp_channel *ch) { return ch->layer.data; }

cp_channel_mode cp__channel_mode(const cp_channel *ch) { return ch->mode; }
