# PosixFeatures.cmake - what the POSIX backend may use here, found by checks rather than OS names.
# Sets CHILDPROC_SPAWN_LINUX (build src/posix/spawn_linux.c, else spawn_portable.c), CHILDPROC_POLLER
# (kqueue, epoll or poll: which src/posix/loop_<poller>.c is built) and CHILDPROC_POSIX_DEFINITIONS
# (CP_HAVE_* and CP_POLLER_* compile definitions for the library's POSIX sources).
# kqueue where it exists (macOS, the BSDs), epoll where that exists (Linux), poll() otherwise or with
# CHILDPROC_FORCE_POLL. CHILDPROC_KQUEUE_EMULATION=ON (tests only, Linux, with the portable mode) builds
# the kqueue poller against tests/support/kqueue_emul, a subset of kqueue written on epoll and pidfds.
# CHILDPROC_PORTABLE_POSIX=ON turns off everything Linux-only (clone, pidfd, epoll, prctl, pipe2,
# ppoll, sigtimedwait, close_range, syscall), so Linux runs the code paths macOS and the BSDs take.
include(CheckSymbolExists)
include(CheckIncludeFile)

set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE -D_DARWIN_C_SOURCE -D__BSD_VISIBLE=1)
set(CHILDPROC_POSIX_DEFINITIONS "")

macro(_cp_posix_check var symbol headers)
  check_symbol_exists(${symbol} "${headers}" ${var})
  if(${var})
    list(APPEND CHILDPROC_POSIX_DEFINITIONS ${var}=1)
  endif()
endmacro()

# Portable ones (kept in the portable mode).
_cp_posix_check(CP_HAVE_ADDCHDIR_NP posix_spawn_file_actions_addchdir_np "spawn.h")
_cp_posix_check(CP_HAVE_ADDCLOSEFROM_NP posix_spawn_file_actions_addclosefrom_np "spawn.h")
_cp_posix_check(CP_HAVE_ADDINHERIT_NP posix_spawn_file_actions_addinherit_np "spawn.h")
_cp_posix_check(CP_HAVE_CLOSEFROM closefrom "unistd.h")
check_include_file(sys/procctl.h CP_HAVE_SYS_PROCCTL_H)
if(CP_HAVE_SYS_PROCCTL_H)
  _cp_posix_check(CP_HAVE_PROCCTL_PDEATHSIG PROC_PDEATHSIG_CTL "sys/types.h;sys/procctl.h")
endif()
check_include_file(mach-o/dyld.h CP_HAVE_MACH_O_DYLD_H)
if(CP_HAVE_MACH_O_DYLD_H)
  _cp_posix_check(CP_HAVE_NSGETEXECUTABLEPATH _NSGetExecutablePath "mach-o/dyld.h")
endif()
check_include_file(crt_externs.h CP_HAVE_CRT_EXTERNS_H)
if(CP_HAVE_CRT_EXTERNS_H)
  _cp_posix_check(CP_HAVE_NSGETENVIRON _NSGetEnviron "crt_externs.h")
endif()
check_include_file(libproc.h CP_HAVE_LIBPROC_H)
if(CP_HAVE_LIBPROC_H)
  _cp_posix_check(CP_HAVE_PROC_PIDINFO proc_pidinfo "libproc.h")
endif()
_cp_posix_check(CP_HAVE_KERN_PROC_PATHNAME KERN_PROC_PATHNAME "sys/types.h;sys/sysctl.h")
_cp_posix_check(CP_HAVE_KERN_PROC_PID KERN_PROC_PID "sys/types.h;sys/sysctl.h;sys/user.h")
check_symbol_exists(kqueue "sys/types.h;sys/event.h;sys/time.h" CP_HAVE_KQUEUE)
check_symbol_exists(kevent "sys/types.h;sys/event.h;sys/time.h" CP_HAVE_KEVENT)
check_symbol_exists(EVFILT_PROC "sys/types.h;sys/event.h;sys/time.h" CP_HAVE_EVFILT_PROC)

if(CHILDPROC_PORTABLE_POSIX)
  set(CHILDPROC_SPAWN_LINUX OFF)
  list(APPEND CHILDPROC_POSIX_DEFINITIONS CP_PORTABLE_POSIX=1)
else()
  # The Linux-only ones, all needed together for the Linux path.
  _cp_posix_check(CP_HAVE_PIPE2 pipe2 "unistd.h;fcntl.h")
  _cp_posix_check(CP_HAVE_SOCK_CLOEXEC SOCK_CLOEXEC "sys/socket.h")
  _cp_posix_check(CP_HAVE_PPOLL ppoll "poll.h;signal.h")
  _cp_posix_check(CP_HAVE_SIGTIMEDWAIT sigtimedwait "signal.h")
  _cp_posix_check(CP_HAVE_EPOLL epoll_create1 "sys/epoll.h")
  _cp_posix_check(CP_HAVE_SCHED_GETAFFINITY sched_getaffinity "sched.h")
  check_symbol_exists(clone "sched.h" CP_HAVE_CLONE)
  check_symbol_exists(PR_SET_PDEATHSIG "sys/prctl.h" CP_HAVE_PR_SET_PDEATHSIG)
  check_symbol_exists(SYS_pidfd_open "sys/syscall.h" CP_HAVE_SYS_PIDFD_OPEN)
  if(CP_HAVE_CLONE AND CP_HAVE_PR_SET_PDEATHSIG AND CP_HAVE_SYS_PIDFD_OPEN AND CP_HAVE_PIPE2 AND CP_HAVE_SOCK_CLOEXEC)
    set(CHILDPROC_SPAWN_LINUX ON)
    list(APPEND CHILDPROC_POSIX_DEFINITIONS CP_SPAWN_LINUX=1)
  else()
    set(CHILDPROC_SPAWN_LINUX OFF)
  endif()
endif()

if(CHILDPROC_KQUEUE_EMULATION)
  if(NOT CHILDPROC_PORTABLE_POSIX OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux" OR CHILDPROC_FORCE_POLL)
    message(FATAL_ERROR "CHILDPROC_KQUEUE_EMULATION is for testing the kqueue poller on Linux: it needs "
                        "-DCHILDPROC_PORTABLE_POSIX=ON, a Linux build, and no CHILDPROC_FORCE_POLL")
  endif()
  set(CHILDPROC_POLLER kqueue)
elseif(CP_HAVE_KQUEUE AND CP_HAVE_KEVENT AND CP_HAVE_EVFILT_PROC AND NOT CHILDPROC_FORCE_POLL)
  set(CHILDPROC_POLLER kqueue)
elseif(CP_HAVE_EPOLL AND NOT CHILDPROC_FORCE_POLL)
  set(CHILDPROC_POLLER epoll)
else()
  set(CHILDPROC_POLLER poll)
endif()
string(TOUPPER "CP_POLLER_${CHILDPROC_POLLER}" _cp_poller_def)
list(APPEND CHILDPROC_POSIX_DEFINITIONS ${_cp_poller_def}=1)
message(STATUS "childproc: POSIX poller ${CHILDPROC_POLLER} (src/posix/loop_${CHILDPROC_POLLER}.c)")
unset(CMAKE_REQUIRED_DEFINITIONS)
