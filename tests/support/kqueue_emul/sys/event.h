/* sys/event.h - the kqueue subset src/posix/loop_kqueue.c uses, emulated on Linux for the tests
 * (CHILDPROC_KQUEUE_EMULATION; kqueue_emul.c). Not the system's header: with the emulation on, the
 * library finds this one first. Names, values and layout follow Apple's and FreeBSD's headers (the
 * constants are the same on both for what is here); the semantics are the documented BSD ones, with
 * the stricter of the two where they differ (see kqueue_emul.c). */
#ifndef CP_KQUEUE_EMUL_SYS_EVENT_H
#define CP_KQUEUE_EMUL_SYS_EVENT_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_PROC (-5)

#define EV_ADD 0x0001     /* add the event (or change it); implies EV_ENABLE */
#define EV_DELETE 0x0002  /* remove it */
#define EV_ENABLE 0x0004  /* report it again */
#define EV_DISABLE 0x0008 /* keep it, but do not report it */
#define EV_ONESHOT 0x0010 /* remove it once reported */
#define EV_CLEAR 0x0020   /* edge-triggered: not emulated (EINVAL) */
#define EV_RECEIPT 0x0040 /* report every change's result in the event list (EV_ERROR, data 0 or errno) */
#define EV_ERROR 0x4000   /* in a result: data is an errno value (0 for a receipt) */
#define EV_EOF 0x8000     /* READ: the writer is gone; WRITE: the reader is gone; PROC: the process exited */

#define NOTE_EXIT 0x80000000U       /* EVFILT_PROC: the process exited */
#define NOTE_EXITSTATUS 0x04000000U /* Apple: with NOTE_EXIT, the wait()-style status in data */

struct kevent {
  uintptr_t ident; /* a descriptor (READ, WRITE) or a pid (PROC) */
  int16_t filter;
  uint16_t flags;
  uint32_t fflags;
  intptr_t data;
  void *udata;
};

#define EV_SET(kevp, a, b, c, d, e, f)                                                                       \
  do {                                                                                                     \
    struct kevent *kev_ = (kevp);                                                                          \
    kev_->ident = (a);                                                                                     \
    kev_->filter = (int16_t)(b);                                                                           \
    kev_->flags = (uint16_t)(c);                                                                           \
    kev_->fflags = (uint32_t)(d);                                                                          \
    kev_->data = (e);                                                                                      \
    kev_->udata = (f);                                                                                     \
  } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist, int nevents,
           const struct timespec *timeout);

#endif
