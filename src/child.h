/* child.h - the internal side of cp_child, shared by spawn, exec and the sync forms. */
#ifndef CP_CHILD_H
#define CP_CHILD_H

#include "internal.h"
#include "loop.h"
#include "prepare.h"

/* Starts a child from prepared arguments (cp_spawn after its checks). Returns CP_EINVAL-style
 * errors only for problems found before starting; a failure to start is delivered as on_error and
 * on_close, as in Node. */
int cp__child_start(cp_loop *loop, const cp__prepared *p, const cp_options *o, const cp_child_events *ev,
                    void *ud, cp_child **out);

/* cp_child_write without the copy: buf must stay valid until cb runs. */
int cp__child_write_nocopy(cp_child *c, const void *buf, size_t len, cp_write_cb cb, void *ud);

/* The error the child could not start with (code CP_OK if it started). */
const cp_error *cp__child_start_error(const cp_child *c);

/* Kills the child, or its tree when it was started as one: what timeout and max_buffer kills use. */
int cp__child_kill_for_limit(cp_child *c);

#endif /* CP_CHILD_H */
