/* channel.h - the message channel's framing and queueing (internal side of cp_channel). */
#ifndef CP_CHANNEL_H
#define CP_CHANNEL_H

#include "internal.h"
#include "loop.h"

#define CP_CHANNEL_MAX_DEFAULT ((size_t)64 * 1024 * 1024)

/* Wraps a connected stream. ev/ud receive the events (a child forwards them to its own events).
 * `ref` says whether the open channel keeps the loop alive. */
int cp__channel_new(cp_loop *loop, os_stream *s, cp_channel_mode mode, size_t max_message,
                    const cp_channel_events *ev, void *ud, bool ref, cp_channel **out);

/* Frees the channel now: closes the stream if still open, without any callback. */
void cp__channel_destroy(cp_channel *ch);

/* A layer on top of a channel (request/response, src/request.c): on_message sees every incoming message
 * before the user's on_message and returns true when it consumed it; on_close runs once the channel
 * closed, before the user's on_disconnect; on_destroy runs when the channel is freed. */
typedef struct cp__channel_layer {
  bool (*on_message)(cp_channel *ch, void *data, const char *msg, size_t len);
  void (*on_close)(cp_channel *ch, void *data);
  void (*on_destroy)(cp_channel *ch, void *data);
  void *data;
} cp__channel_layer;

/* Sets the channel's layer (NULL removes it); cp__channel_layer_data() gives the current layer's data
 * (NULL when there is none). */
void cp__channel_set_layer(cp_channel *ch, const cp__channel_layer *layer);
void *cp__channel_layer_data(const cp_channel *ch);

/* The channel's framing (CP_CHANNEL_JSON or CP_CHANNEL_BINARY). */
cp_channel_mode cp__channel_mode(const cp_channel *ch);

#endif /* CP_CHANNEL_H */
