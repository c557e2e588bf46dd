/* spawn.c - starting and watching a child on Windows.
 *
 * The program is resolved first (search.c); a .bat/.cmd runs through cmd.exe with its arguments
 * escaped (quote.c), anything else through CreateProcessW with an MSVCRT-quoted command line. The
 * child inherits exactly its stdio handles and the channel: they are created non-inheritable, made
 * inheritable only around CreateProcessW under a process-wide lock, and listed in
 * PROC_THREAD_ATTRIBUTE_HANDLE_LIST so nothing else can leak into it. The channel (and the stdio)
 * also reach the child's C runtime as descriptors through STARTUPINFO.lpReserved2, the way the CRT
 * passes descriptors to its own children (and Node passes its IPC pipe).
 *
 * A child started as a tree (new_group/detached) or that must die with us goes into its own job
 * object: created suspended, assigned, then resumed, so not even its first grandchild escapes.
 * Exit is watched by a thread-pool wait that posts a packet to the loop's port. */
#include "win32.h"

/* ProcThreadAttributeValue(ProcThreadAttributeJobList, FALSE, TRUE, FALSE), declared by the SDK only
 * for Windows 10 targets; the library asks for it at run time. */
#define WIN32_ATTRIBUTE_JOB_LIST ((DWORD_PTR)0x0002000D)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct os_proc {
  os_loop *loop;
  HANDLE iocp;
  HANDLE process;
  HANDLE wait; /* RegisterWaitForSingleObject */
  HANDLE job;  /* NULL unless a tree or kill_on_parent_exit */
  bool group;
  bool job_kills_on_close;
  DWORD pid;
  win32_op exit_op;
  volatile LONG exit_posted; /* the wait callback posted exit_op */
  bool exited;               /* exit_op was dequeued */
  bool freed;                /* os_proc_free() ran before exit_op was dequeued */
  int kill_signal;           /* the CP_SIG* with which we terminated it */
  os_exit_cb cb;
  void *data;
};

static SRWLOCK inherit_lock = SRWLOCK_INIT;

#define CONTAINER(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- exit ---- */

static void CALLBACK on_process_signaled(void *ctx, BOOLEAN timed_out) {
  os_proc *p = ctx;
  (void)timed_out;
  InterlockedExchange(&p->exit_posted, 1);
  PostQueuedCompletionStatus(p->iocp, 0, 0, &p->exit_op.ov); /* p is not touched after this */
}

static void proc_destroy(os_proc *p) {
  if (p->job) {
    if (p->job_kills_on_close) {
      /* Released normally: whatever the child left running is let be, as on POSIX. */
      JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
      memset(&li, 0, sizeof li);
      SetInformationJobObject(p->job, JobObjectExtendedLimitInformation, &li, sizeof li);
    }
    CloseHandle(p->job);
  }
  if (p->process) CloseHandle(p->process);
  free(p);
}

static void on_exit_packet(win32_op *op, DWORD bytes, DWORD error) {
  os_proc *p = CONTAINER(op, os_proc, exit_op);
  (void)bytes;
  (void)error;
  if (p->freed) {
    win32_loop_zombie_add(p->loop, -1);
    proc_destroy(p);
    return;
  }
  p->exited = true;
  if (p->wait) {
    UnregisterWaitEx(p->wait, INVALID_HANDLE_VALUE); /* the callback has finished or is finishing */
    p->wait = NULL;
  }
  DWORD code = 0;
  if (!GetExitCodeProcess(p->process, &code)) code = 0;
  int64_t status = (int64_t)code;
  int sig = 0;
  /* As Node on Windows: a child we terminated reports the signal it was sent and no exit code. */
  if (p->kill_signal) {
    status = -1;
    sig = p->kill_signal;
  }
  p->cb(p, p->data, status, sig);
}

int64_t os_proc_pid(const os_proc *p) { return (int64_t)p->pid; }

static bool is_kill_signal(int signum) {
  return signum == CP_SIGTERM || signum == CP_SIGKILL || signum == CP_SIGINT || signum == CP_SIGQUIT ||
         signum == CP_SIGHUP;
}

static bool process_gone(HANDLE h) { return WaitForSingleObject(h, 0) == WAIT_OBJECT_0; }

int os_proc_kill(os_proc *p, int signum) {
  if (signum != 0 && !is_kill_signal(signum)) return CP_EINVAL;
  /* Checked first: Wine's TerminateProcess succeeds on a process that has exited. */
  if (p->exited || process_gone(p->process)) return CP_ESRCH;
  if (signum == 0) return 0;
  if (!TerminateProcess(p->process, 1)) {
    DWORD e = GetLastError();
    if (process_gone(p->process)) return CP_ESRCH; /* it exited in between (ACCESS_DENIED) */
    return win32_error(e) ? win32_error(e) : CP_EUNKNOWN;
  }
  if (!p->kill_signal) p->kill_signal = signum;
  return 0;
}

int os_proc_kill_tree(os_proc *p, int signum) {
  if (!p->group || !p->job) return CP_EINVAL;
  if (signum != 0 && !is_kill_signal(signum)) return CP_EINVAL;
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION info;
  memset(&info, 0, sizeof info);
  if (!QueryInformationJobObject(p->job, JobObjectBasicAccountingInformation, &info, sizeof info, NULL)) {
    DWORD e = GetLastError();
    return win32_error(e) ? win32_error(e) : CP_EUNKNOWN;
  }
  if (info.ActiveProcesses == 0) return CP_ESRCH;
  if (signum == 0) return 0;
  bool child_alive = !p->exited && !process_gone(p->process);
  if (!TerminateJobObject(p->job, 1)) {
    DWORD e = GetLastError();
    return win32_error(e) ? win32_error(e) : CP_EUNKNOWN;
  }
  if (child_alive && !p->kill_signal) p->kill_signal = signum;
  return 0;
}

void os_proc_free(os_proc *p) {
  if (!p) return;
  if (p->wait) {
    UnregisterWaitEx(p->wait, INVALID_HANDLE_VALUE); /* after this the callback cannot run any more */
    p->wait = NULL;
  }
  if (InterlockedCompareExchange(&p->exit_posted, 0, 0) && !p->exited) {
    /* Its exit packet is still queued: the loop frees it when the packet comes. */
    p->freed = true;
    win32_loop_zombie_add(p->loop, 1);
    return;
  }
  proc_destroy(p);
}

/* ---- spawn ---- */

/* The C runtime's descriptor flags in STARTUPINFO.lpReserved2. */
#define CRT_FOPEN 0x01
#define CRT_FPIPE 0x08
#define CRT_FDEV  0x40

static unsigned char crt_flags_for(HANDLE h) {
  switch (GetFileType(h)) {
  case FILE_TYPE_PIPE:
    return CRT_FOPEN | CRT_FPIPE;
  case FILE_TYPE_CHAR:
    return CRT_FOPEN | CRT_FDEV;
  default:
    return CRT_FOPEN;
  }
}

/* { int count; unsigned char flags[count]; HANDLE handles[count]; } packed, handles unaligned. */
static unsigned char *make_crt_block(HANDLE fds[], int count, WORD *size) {
  size_t bytes = sizeof(int) + (size_t)count + (size_t)count * sizeof(HANDLE);
  if (bytes > 0xFFFF) return NULL;
  unsigned char *b = calloc(1, bytes);
  if (!b) return NULL;
  memcpy(b, &count, sizeof count);
  for (int i = 0; i < count; i++) {
    HANDLE h = fds[i] ? fds[i] : INVALID_HANDLE_VALUE;
    b[sizeof(int) + (size_t)i] = h == INVALID_HANDLE_VALUE ? 0 : crt_flags_for(h);
    memcpy(b + sizeof(int) + (size_t)count + (size_t)i * sizeof(HANDLE), &h, sizeof h);
  }
  *size = (WORD)bytes;
  return b;
}

static HANDLE open_nul(DWORD *e) {
  HANDLE h = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                         OPEN_EXISTING, 0, NULL);
  if (h == INVALID_HANDLE_VALUE) *e = GetLastError();
  return h;
}

static HANDLE dup_handle(HANDLE h) {
  HANDLE d = NULL;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &d, 0, FALSE, DUPLICATE_SAME_ACCESS))
    return INVALID_HANDLE_VALUE;
  return d;
}

static char *parent_path(void) {
  DWORD n = GetEnvironmentVariableW(L"PATH", NULL, 0);
  if (!n) return NULL;
  wchar_t *w = malloc((n + 1) * sizeof *w);
  char *s = NULL;
  if (w && GetEnvironmentVariableW(L"PATH", w, n + 1) <= n) s = win32_utf8(w, -1);
  free(w);
  return s;
}

static HANDLE make_job(bool group, bool kill_on_close, DWORD *e) {
  HANDLE job = CreateJobObjectW(NULL, NULL);
  if (!job) {
    *e = GetLastError();
    return NULL;
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  memset(&li, 0, sizeof li);
  /* A tree keeps every descendant in the job; a lone child that must die with us lets its own
   * children out (they are not part of the promise). */
  li.BasicLimitInformation.LimitFlags = (kill_on_close ? JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE : 0) |
                                        (group ? 0 : JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK);
  if (li.BasicLimitInformation.LimitFlags &&
      !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li, sizeof li)) {
    *e = GetLastError();
    CloseHandle(job);
    return NULL;
  }
  return job;
}

static int spawn_error(cp_error *err, DWORD e, const char *path) {
  int code = win32_error(e);
  if (!code) code = CP_EUNKNOWN;
  if (code == CP_ENOEXEC)
    return cp__error_setf(err, code, (int)e, "CreateProcessW", path,
                          "CreateProcessW %.200s ENOEXEC: not a Windows executable (error %lu)", path,
                          (unsigned long)e);
  return cp__error_set(err, code, (int)e, "CreateProcessW", path);
}

int os_spawn(os_loop *loop, const os_spawn_req *req, os_exit_cb exit_cb, void *data, os_proc **proc,
             os_stream *pipes[3], os_stream **channel, cp_error *err) {
  static const char *const slot_names[3] = {"stdin", "stdout", "stderr"};
  static const DWORD std_ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
  HANDLE child_h[3] = {INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE};
  HANDLE server_h[3] = {INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE};
  HANDLE chan_server = INVALID_HANDLE_VALUE, chan_client = INVALID_HANDLE_VALUE, job = NULL;
  wchar_t *wprog = NULL, *wapp = NULL, *wcmd = NULL, *wenv = NULL, *wcwd = NULL;
  char *cmdline = NULL, *prog8 = NULL, *comspec = NULL, *own_path = NULL;
  unsigned char *crt = NULL;
  LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
  bool attrs_init = false;
  PROCESS_INFORMATION pi;
  memset(&pi, 0, sizeof pi);
  os_proc *p = NULL;
  int rc = 0;
  DWORD e = 0;
  pipes[0] = pipes[1] = pipes[2] = NULL;
  *proc = NULL;
  *channel = NULL;

  if (req->set_uid || req->set_gid)
    return cp__error_setf(err, CP_ENOTSUP, 0, "spawn", NULL,
                          "spawn ENOTSUP: options.%s is POSIX only (Windows has no uid/gid to switch to)",
                          req->set_uid ? "uid" : "gid");

  if (req->cwd) {
    wcwd = win32_utf16(req->cwd, &rc);
    if (!wcwd) {
      rc = rc == CP_ENOMEM
               ? cp__error_set(err, rc, 0, "spawn", NULL)
               : cp__error_setf(err, rc, 0, "spawn", req->cwd, "spawn EINVAL: options.cwd is not UTF-8");
      goto fail;
    }
    DWORD a = GetFileAttributesW(wcwd);
    if (a == INVALID_FILE_ATTRIBUTES) {
      e = GetLastError();
      rc = cp__error_set(err, win32_error(e) ? win32_error(e) : CP_ENOENT, (int)e, "chdir", req->cwd);
      goto fail;
    }
    if (!(a & FILE_ATTRIBUTE_DIRECTORY)) {
      rc = cp__error_set(err, CP_ENOTDIR, ERROR_DIRECTORY, "chdir", req->cwd);
      goto fail;
    }
  }

  /* Without PATH in the child's environment, the block gets ours (env.c): search that too. */
  const char *path_env = req->path_env;
  if (!path_env) path_env = own_path = parent_path();
  rc = win32_search(req->file, path_env, req->envp, req->cwd, &wprog, err);
  if (rc) goto fail;
  prog8 = win32_utf8(wprog, -1);
  if (!prog8) goto oom;

  if (win32_is_batch_file(wprog)) {
    comspec = win32_comspec();
    if (!comspec) goto oom;
    rc = win32_make_bat_cmdline(comspec, prog8, req->argv, req->windows_verbatim_arguments, &cmdline, err);
    if (rc) goto fail;
    wapp = win32_utf16(comspec, &rc);
    if (!wapp) goto fail_conv;
  } else {
    rc = win32_make_cmdline(req->argv, req->windows_verbatim_arguments, &cmdline, err);
    if (rc) goto fail;
    wapp = wprog;
    wprog = NULL;
  }
  wcmd = win32_utf16(cmdline, &rc);
  if (!wcmd) goto fail_conv;
  size_t cmdlen = wcslen(wcmd);
  if (cmdlen + 1 > WIN32_CMDLINE_MAX) {
    rc = cp__error_setf(err, CP_E2BIG, 0, "spawn", prog8,
                        "spawn E2BIG: the command line for %.200s is %zu characters long; Windows allows %d",
                        prog8, cmdlen, WIN32_CMDLINE_MAX - 1);
    goto fail;
  }
  rc = req->env_inherited ? 0 : win32_make_env_block(req->envp, &wenv); /* NULL: our own block, as is */
  if (rc) {
    rc = rc == CP_ENOMEM
             ? cp__error_set(err, rc, 0, "spawn", NULL)
             : cp__error_setf(err, rc, 0, "spawn", NULL, "spawn EINVAL: an environment entry is not UTF-8");
    goto fail;
  }

  /* ---- the child's handles, all non-inheritable for now ---- */
  for (int i = 0; i < 3; i++) {
    switch (req->stdio[i].kind) {
    case CP_STDIO_PIPE:
      rc = win32_pipe_pair(false, i == 0, false, &server_h[i], &child_h[i], &e);
      if (rc) {
        rc = cp__error_set(err, rc, (int)e, "pipe", NULL);
        goto fail;
      }
      break;
    case CP_STDIO_INHERIT: {
      HANDLE h = GetStdHandle(std_ids[i]);
      if (h && h != INVALID_HANDLE_VALUE) child_h[i] = dup_handle(h);
      if (child_h[i] != INVALID_HANDLE_VALUE) break;
      /* no such stream here (a GUI or detached parent): the null device, never a closed stream */
    }
      /* fall through */
    case CP_STDIO_IGNORE:
      if (req->channel_fd == i) break; /* the channel goes here (below) */
      child_h[i] = open_nul(&e);
      if (child_h[i] == INVALID_HANDLE_VALUE) {
        rc = cp__error_set(err, win32_error(e) ? win32_error(e) : CP_EUNKNOWN, (int)e, "open", "NUL");
        goto fail;
      }
      break;
    case CP_STDIO_FD:
      child_h[i] = dup_handle((HANDLE)req->stdio[i].fd);
      if (child_h[i] == INVALID_HANDLE_VALUE) {
        e = GetLastError();
        rc = cp__error_setf(err, CP_EBADF, (int)e, "spawn", NULL,
                            "spawn EBADF: options.stdio[%d].fd (for %s) is not an open handle", i,
                            slot_names[i]);
        goto fail;
      }
      break;
    default:
      rc = cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.stdio[%d].kind is not usable here", i);
      goto fail;
    }
  }
  int crt_count = 0;
  HANDLE crt_fds[256];
  if (req->channel_fd >= 0) {
    if (req->channel_fd > 255) {
      rc = cp__error_set(err, CP_EINVAL, 0, "spawn", NULL);
      goto fail;
    }
    rc = win32_pipe_pair(true, false, true, &chan_server, &chan_client, &e);
    if (rc) {
      rc = cp__error_set(err, rc, (int)e, "pipe", NULL);
      goto fail;
    }
    if (req->channel_fd < 3) {
      if (child_h[req->channel_fd] != INVALID_HANDLE_VALUE) CloseHandle(child_h[req->channel_fd]);
      child_h[req->channel_fd] = chan_client;
      chan_client = INVALID_HANDLE_VALUE; /* owned by child_h now */
    }
    crt_count = req->channel_fd < 3 ? 3 : req->channel_fd + 1;
    for (int i = 0; i < crt_count; i++) crt_fds[i] = i < 3 ? child_h[i] : INVALID_HANDLE_VALUE;
    if (req->channel_fd >= 3) crt_fds[req->channel_fd] = chan_client;
  }

  HANDLE inherit[4];
  DWORD ninherit = 0;
  for (int i = 0; i < 3; i++) {
    bool dup = false;
    for (DWORD k = 0; k < ninherit; k++) dup |= inherit[k] == child_h[i];
    if (!dup) inherit[ninherit++] = child_h[i];
  }
  if (chan_client != INVALID_HANDLE_VALUE) inherit[ninherit++] = chan_client;

  STARTUPINFOEXW si;
  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES | STARTF_USESHOWWINDOW;
  si.StartupInfo.wShowWindow = req->windows_hide ? SW_HIDE : SW_SHOWDEFAULT;
  si.StartupInfo.hStdInput = child_h[0];
  si.StartupInfo.hStdOutput = child_h[1];
  si.StartupInfo.hStdError = child_h[2];
  if (crt_count) {
    WORD size = 0;
    crt = make_crt_block(crt_fds, crt_count, &size);
    if (!crt) goto oom;
    si.StartupInfo.cbReserved2 = size;
    si.StartupInfo.lpReserved2 = crt;
  }
  /* Job objects: per child, for trees (kill_tree, detached) and for kill_on_parent_exit. This is
   * the only process that holds the handle, so KILL_ON_JOB_CLOSE fires when it ends, however. */
  bool group = req->new_group || req->detached;
  if (group || req->kill_on_parent_exit) {
    job = make_job(group, req->kill_on_parent_exit, &e);
    if (!job) {
      rc =
          cp__error_set(err, win32_error(e) ? win32_error(e) : CP_EUNKNOWN, (int)e, "CreateJobObjectW", NULL);
      goto fail;
    }
  }

  /* The child goes into its job as it is created (PROC_THREAD_ATTRIBUTE_JOB_LIST, Windows 10): were
   * it created suspended and assigned afterwards, a parent dying in between would leave it
   * suspended outside any job for ever. Where the attribute is refused (older Windows), that is
   * the fallback, with the window it has. */
  bool try_job_list = job != NULL, job_at_creation;
retry_attrs:
  job_at_creation = try_job_list;
  DWORD nattr = job_at_creation ? 2 : 1;
  SIZE_T attr_size = 0;
  InitializeProcThreadAttributeList(NULL, nattr, 0, &attr_size);
  attrs = malloc(attr_size);
  if (!attrs) goto oom;
  if (!InitializeProcThreadAttributeList(attrs, nattr, 0, &attr_size)) {
    e = GetLastError();
    rc = cp__error_set(err, win32_error(e) ? win32_error(e) : CP_EUNKNOWN, (int)e, "spawn", NULL);
    goto fail;
  }
  attrs_init = true;
  if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit,
                                 ninherit * sizeof(HANDLE), NULL, NULL)) {
    e = GetLastError();
    rc = cp__error_set(err, win32_error(e) ? win32_error(e) : CP_EUNKNOWN, (int)e, "spawn", NULL);
    goto fail;
  }
  if (job_at_creation && !UpdateProcThreadAttribute(attrs, 0, WIN32_ATTRIBUTE_JOB_LIST, &job, sizeof job, NULL, NULL)) {
    DeleteProcThreadAttributeList(attrs);
    attrs_init = false;
    free(attrs);
    attrs = NULL;
    try_job_list = false;
    goto retry_attrs;
  }
  si.lpAttributeList = attrs;

  DWORD flags = CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT;
  if (job && !job_at_creation) flags |= CREATE_SUSPENDED;
  if (req->detached) flags |= DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP;
  if (req->windows_hide) flags |= CREATE_NO_WINDOW;

  AcquireSRWLockExclusive(&inherit_lock);
  for (DWORD k = 0; k < ninherit; k++)
    SetHandleInformation(inherit[k], HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  /* Wine reports ERROR_INTERNAL_ERROR when the new process died during its start-up, before any of
   * its code ran (seen once in CI, for a child whose stdin was a file). Nothing of the child ran, so
   * a second try is safe; Windows itself does not fail this way. */
  BOOL ok = FALSE;
  for (int attempt = 0; attempt < 3; attempt++) {
    ok = CreateProcessW(wapp, wcmd, NULL, NULL, TRUE, flags, wenv, wcwd, &si.StartupInfo, &pi);
    e = ok ? 0 : GetLastError();
    if (ok || e != ERROR_INTERNAL_ERROR) break;
  }
  for (DWORD k = 0; k < ninherit; k++) SetHandleInformation(inherit[k], HANDLE_FLAG_INHERIT, 0);
  ReleaseSRWLockExclusive(&inherit_lock);
  if (!ok && job_at_creation && (e == ERROR_INVALID_PARAMETER || e == ERROR_NOT_SUPPORTED)) {
    DeleteProcThreadAttributeList(attrs); /* a system without job lists: the suspended way */
    attrs_init = false;
    free(attrs);
    attrs = NULL;
    try_job_list = false;
    goto retry_attrs;
  }
  if (!ok) {
    rc = spawn_error(err, e, prog8);
    goto fail;
  }

  if (job && !job_at_creation) {
    if (!AssignProcessToJobObject(job, pi.hProcess)) {
      e = GetLastError();
      TerminateProcess(pi.hProcess, 1);
      WaitForSingleObject(pi.hProcess, INFINITE);
      rc = cp__error_set(err, win32_error(e) ? win32_error(e) : CP_EUNKNOWN, (int)e,
                         "AssignProcessToJobObject", NULL);
      goto fail_started;
    }
    ResumeThread(pi.hThread);
  }
  CloseHandle(pi.hThread);
  pi.hThread = NULL;

  p = calloc(1, sizeof *p);
  if (!p) goto oom_started;
  p->loop = loop;
  p->iocp = win32_loop_iocp(loop);
  p->process = pi.hProcess;
  p->pid = pi.dwProcessId;
  p->group = group;
  p->job = job;
  p->job_kills_on_close = req->kill_on_parent_exit;
  p->exit_op.done = on_exit_packet;
  p->cb = exit_cb;
  p->data = data;
  job = NULL;
  for (int i = 0; i < 3; i++) {
    if (server_h[i] == INVALID_HANDLE_VALUE) continue;
    if (win32_stream_new(loop, server_h[i], &pipes[i])) goto oom_started;
    server_h[i] = INVALID_HANDLE_VALUE;
  }
  if (chan_server != INVALID_HANDLE_VALUE) {
    if (win32_stream_new(loop, chan_server, channel)) goto oom_started;
    chan_server = INVALID_HANDLE_VALUE;
  }
  if (!RegisterWaitForSingleObject(&p->wait, p->process, on_process_signaled, p, INFINITE,
                                   WT_EXECUTEINWAITTHREAD | WT_EXECUTEONLYONCE)) {
    e = GetLastError();
    p->wait = NULL;
    TerminateProcess(p->process, 1);
    WaitForSingleObject(p->process, INFINITE);
    rc = cp__error_set(err, win32_error(e) ? win32_error(e) : CP_EUNKNOWN, (int)e,
                       "RegisterWaitForSingleObject", NULL);
    goto fail;
  }
  *proc = p;
  p = NULL;
  rc = 0;
  goto out;

oom_started:
  TerminateProcess(pi.hProcess, 1);
  WaitForSingleObject(pi.hProcess, INFINITE);
  rc = cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
fail_started:
  if (!p) CloseHandle(pi.hProcess); /* else proc_destroy() closes it */
  goto fail;
fail_conv:
  rc = cp__error_set(err, rc ? rc : CP_ENOMEM, 0, "spawn", NULL);
  goto fail;
oom:
  rc = cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
fail:
  for (int i = 0; i < 3; i++) {
    if (pipes[i]) os_stream_close(pipes[i]);
    pipes[i] = NULL;
  }
  if (*channel) os_stream_close(*channel);
  *channel = NULL;
  if (p) {
    p->wait = NULL;
    proc_destroy(p); /* closes the process handle and the job */
    p = NULL;
  }
out:
  if (pi.hThread) CloseHandle(pi.hThread);
  for (int i = 0; i < 3; i++) {
    if (child_h[i] != INVALID_HANDLE_VALUE) CloseHandle(child_h[i]);
    if (server_h[i] != INVALID_HANDLE_VALUE) CloseHandle(server_h[i]);
  }
  if (chan_server != INVALID_HANDLE_VALUE) CloseHandle(chan_server);
  if (chan_client != INVALID_HANDLE_VALUE) CloseHandle(chan_client);
  if (job) CloseHandle(job);
  if (attrs_init) DeleteProcThreadAttributeList(attrs);
  free(attrs);
  free(crt);
  free(wprog);
  free(wapp);
  free(wcmd);
  free(wenv);
  free(wcwd);
  free(cmdline);
  free(prog8);
  free(comspec);
  free(own_path);
  return rc;
}
