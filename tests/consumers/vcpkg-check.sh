#!/usr/bin/env bash
# vcpkg-check.sh - installs childproc with a real vcpkg, offline, from the registry port
# (ports/childproc, its pinned archive made locally) and from the development overlay
# (overlay-ports/childproc), for each triplet given, and builds and runs the consumer project
# (tests/consumers/consumer) against each install through find_package and pkg-config; the mingw
# triplets' programs run under Wine. Run by hand (docs/packaging.md says how to get vcpkg).
#   VCPKG_ROOT=<registry checkout with a vcpkg binary> tests/consumers/vcpkg-check.sh [TRIPLET...]
# Default triplets: x64-linux x64-linux-dynamic x64-mingw-static x64-mingw-dynamic.
# Work files go to $CHECK_DIR (default /tmp/childproc-vcpkg-check). Prints one PASS/FAIL line per
# port x triplet x consumption and exits non-zero if any failed.
set -uo pipefail
: "${VCPKG_ROOT:?set VCPKG_ROOT to a vcpkg registry checkout holding a vcpkg binary}"
root=$(cd "$(dirname "$0")/../.." && pwd)
check=${CHECK_DIR:-/tmp/childproc-vcpkg-check}
triplets=("$@")
[ ${#triplets[@]} -gt 0 ] || triplets=(x64-linux x64-linux-dynamic x64-mingw-static x64-mingw-dynamic)
vcpkg="$VCPKG_ROOT/vcpkg"
export VCPKG_FORCE_SYSTEM_BINARIES=1 VCPKG_DISABLE_METRICS=1
# Offline: downloads come only from $VCPKG_ROOT/downloads; anything else is an error.
export X_VCPKG_ASSET_SOURCES="clear;x-block-origin"
export VCPKG_DEFAULT_BINARY_CACHE="$check/binary-cache"
export WINEDEBUG=-all WINEPREFIX=${WINEPREFIX:-$check/wine-prefix}
mkdir -p "$VCPKG_DEFAULT_BINARY_CACHE"
results=()
failed=0
log() { printf '==> %s\n' "$*"; }
record() { # record <PASS|FAIL> <what>
  results+=("$1 $2")
  [ "$1" = PASS ] || failed=1
}

# The registry port's source: the archive of its REF, where vcpkg_from_github looks for it.
ref=$(sed -n -E 's/^    REF ([0-9a-f]{40})$/\1/p' "$root/ports/childproc/portfile.cmake")
log "registry port REF $ref: archive into $VCPKG_ROOT/downloads"
"$root/tests/consumers/source-archive.sh" "$ref" "$VCPKG_ROOT/downloads" || exit 1

consume() { # consume <port> <triplet> <package|pkgconfig>
  local port=$1 triplet=$2 how=$3 dir="$check/$1-$2-$3" installed="$VCPKG_ROOT/installed/$2"
  local args=(-DCMAKE_BUILD_TYPE=Release -DCONSUME="$how")
  local exe="$dir/consumer" run=()
  rm -rf "$dir"
  local cross=
  if [[ $triplet == *mingw* ]]; then
    cross="$root/cmake/mingw-w64-x86_64.cmake"
    exe="$exe.exe"
    run=(wine)
  fi
  if [ "$how" = package ]; then # vcpkg's toolchain, loading the cross one after itself
    args+=(-DCMAKE_TOOLCHAIN_FILE="$VCPKG_ROOT/scripts/buildsystems/vcpkg.cmake" -DVCPKG_TARGET_TRIPLET="$triplet")
    [ -z "$cross" ] || args+=(-DVCPKG_CHAINLOAD_TOOLCHAIN_FILE="$cross")
  else
    [ -z "$cross" ] || args+=(-DCMAKE_TOOLCHAIN_FILE="$cross")
    args+=(-DCMAKE_FIND_ROOT_PATH="$installed")
    export PKG_CONFIG_LIBDIR="$installed/lib/pkgconfig" PKG_CONFIG_PATH=
  fi
  if ! cmake -S "$root/tests/consumers/consumer" -B "$dir" -G Ninja "${args[@]}" >"$dir.log" 2>&1 ||
     ! cmake --build "$dir" >>"$dir.log" 2>&1; then
    record FAIL "$port $triplet $how: build (see $dir.log)"
    return
  fi
  if [[ $triplet == *mingw-dynamic ]]; then
    cp "$installed"/bin/*.dll "$dir/"
  fi
  local out
  out=$("${run[@]}" "$exe" 2>&1)
  if [[ $out == *consumer-ok* ]]; then
    record PASS "$port $triplet $how: $(grep -m1 consumer-ok <<<"$out")"
  else
    record FAIL "$port $triplet $how: $out"
  fi
}

cd "$root" || exit 1 # from the repository root, as the documentation does
for port in ports overlay-ports; do
  for triplet in "${triplets[@]}"; do
    log "$port: vcpkg install childproc --triplet $triplet"
    "$vcpkg" remove childproc --classic --triplet "$triplet" >/dev/null 2>&1
    extra=()
    [ $port = ports ] || extra=(--editable) # the overlay builds the tree: no binary cache for it
    if "$vcpkg" install childproc --classic "${extra[@]}" --overlay-ports="$port" --triplet "$triplet" \
         >"$check/$port-$triplet-install.log" 2>&1; then
      record PASS "$port $triplet: vcpkg install"
      consume "$port" "$triplet" package
      consume "$port" "$triplet" pkgconfig
    else
      record FAIL "$port $triplet: vcpkg install (see $check/$port-$triplet-install.log)"
    fi
  done
done
printf '%s\n' "${results[@]}"
exit $failed
