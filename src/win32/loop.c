/* loop.c - the Windows poller: one I/O completion port per loop. Every overlapped read and write,
 * every child exit (posted by a thread-pool wait) and every deferred delivery arrives as a packet
 * whose OVERLAPPED starts a win32_op; os_loop_poll() dequeues a batch and runs each op's done(). An
 * object's memory is freed only once the kernel owes it no more packets (see stream.c, spawn.c). */
#include "win32.h"

#include <stdlib.h>

#define MAX_ENTRIES   64
#define DRAIN_WAIT_MS 5000

struct os_loop {
  HANDLE iocp;
  int zombies; /* closed objects still owed packets */
};

uint64_t os_now_ms(void) {
  static LARGE_INTEGER freq; /* constant for the life of the system: a benign race */
  LARGE_INTEGER now;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  if (!freq.QuadPart || !QueryPerformanceCounter(&now)) return GetTickCount64();
  uint64_t c = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
  return c / f * 1000u + c % f * 1000u / f;
}

int os_loop_new(os_loop **out) {
  os_loop *l = calloc(1, sizeof *l);
  if (!l) return CP_ENOMEM;
  l->iocp = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!l->iocp) {
    int rc = win32_error(GetLastError());
    free(l);
    return rc ? rc : CP_EUNKNOWN;
  }
  *out = l;
  return 0;
}

HANDLE win32_loop_iocp(os_loop *l) { return l->iocp; }

cp_os_handle os_loop_handle(os_loop *l) { return (cp_os_handle)l->iocp; }

/* Every delivery is a packet on the IOCP, so the handle shows all pending work. */
bool os_loop_has_pending(os_loop *l) {
  (void)l;
  return false;
}

int win32_loop_associate(os_loop *l, HANDLE h) {
  if (!CreateIoCompletionPort(h, l->iocp, 0, 0)) {
    int rc = win32_error(GetLastError());
    return rc ? rc : CP_EUNKNOWN;
  }
  return 0;
}

int win32_post(os_loop *l, win32_op *op, DWORD error) {
  op->posted = true;
  op->posted_error = error;
  if (!PostQueuedCompletionStatus(l->iocp, 0, 0, &op->ov)) {
    int rc = win32_error(GetLastError());
    op->posted = false;
    return rc ? rc : CP_EUNKNOWN;
  }
  return 0;
}

void win32_loop_zombie_add(os_loop *l, int n) { l->zombies += n; }

static void dispatch(OVERLAPPED_ENTRY *e) {
  if (!e->lpOverlapped) return; /* a bare wake-up */
  win32_op *op = (win32_op *)e->lpOverlapped;
  DWORD bytes = e->dwNumberOfBytesTransferred, error = 0;
  if (op->posted) {
    op->posted = false;
    error = op->posted_error;
  } else if (op->ov.Internal != 0) {
    /* The NTSTATUS of the operation, as a Win32 error (the operation is complete: no wait). */
    DWORD n = 0;
    if (!GetOverlappedResult(op->handle, &op->ov, &n, FALSE)) error = GetLastError();
    if (!error) error = ERROR_GEN_FAILURE;
  }
  op->done(op, bytes, error);
}

int os_loop_poll(os_loop *l, int timeout_ms) {
  OVERLAPPED_ENTRY entries[MAX_ENTRIES];
  ULONG n = 0;
  DWORD wait = timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms;
  if (!GetQueuedCompletionStatusEx(l->iocp, entries, MAX_ENTRIES, &n, wait, FALSE)) {
    DWORD e = GetLastError();
    if (e == WAIT_TIMEOUT) return 0;
    int rc = win32_error(e);
    return rc ? rc : CP_EUNKNOWN;
  }
  /* A done() may close objects whose packets come later in this batch: they stay allocated until
   * their own packet is handled, so every entry here is still valid memory. */
  for (ULONG i = 0; i < n; i++) dispatch(&entries[i]);
  return 0;
}

void os_loop_free(os_loop *l) {
  if (!l) return;
  /* Cancelled reads and writes of closed streams, and exits posted for freed procs, still owe their
   * packets: take them (each frees its object) before the port goes. If the kernel takes longer than
   * DRAIN_WAIT_MS, what is left is leaked rather than freed under the kernel's feet. */
  uint64_t until = os_now_ms() + DRAIN_WAIT_MS;
  while (l->zombies > 0) {
    uint64_t now = os_now_ms();
    if (now >= until) break;
    OVERLAPPED_ENTRY entries[MAX_ENTRIES];
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(l->iocp, entries, MAX_ENTRIES, &n, (DWORD)(until - now), FALSE)) break;
    for (ULONG i = 0; i < n; i++) dispatch(&entries[i]);
  }
  CloseHandle(l->iocp);
  free(l);
}
