/* request.h - what the worker pool needs of the request layer (request.c) beyond the public API. */
#ifndef CP_REQUEST_H
#define CP_REQUEST_H

#include "channel.h"

/* Forgets the pending requests of a channel and its bad-message callback, without calling them: for
 * an owner that goes before the channel does (the pool freed while its workers still close). */
void cp__request_forget(cp_channel *ch);

#endif
