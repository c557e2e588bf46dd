#!/usr/bin/env bash
# bench/run.sh - build childproc's benchmarks and print one table: every figure of issue 5 against
# its baselines (raw system calls, libuv, Node), all measured in this one run.
#
#   bash bench/run.sh [--quick] [--reps N] [--no-big] [--no-install]
#
#   --quick       smoke mode for CI: tiny counts and small heaps, one repetition, a few seconds; the
#                 figures mean nothing, but every benchmark must run (exit status 1 if one fails)
#   --reps N      repetitions (default 5); the table gives childproc's median [min-max] and each
#                 baseline's median over them. The repetitions are interleaved (rep 1 of every
#                 figure, then rep 2, ...) so a machine busy with something else hurts all columns alike.
#   --no-big      skip the 2 GiB / 8 GiB parent figures (they need 8 GiB + 2 GiB of free memory;
#                 they are skipped by themselves, with a note, on a machine without it)
#   --no-install  never call apt-get
#
# Missing tools are installed with apt-get (as root, or with sudo -n) only if missing: a C compiler,
# cmake, make, pkg-config; libuv1-dev and nodejs for the baselines (without them the libuv and Node
# columns say n/a). The benchmarks are built in build-bench/ (Release) next to this directory, or in
# $CP_BENCH_BUILD. Results: build-bench/bench-results.txt (raw lines), build-bench/bench-table.md.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${CP_BENCH_BUILD:-$root/build-bench}
quick=0 reps=5 big=1 install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --no-big) big=0 ;;
    --no-install) install=0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(uname -s)" != Linux ]; then
  echo "run.sh: the benchmarks run on Linux only (their raw baselines use epoll and /proc)" >&2
  exit 2
fi

# ---- what is missing ------------------------------------------------------------------------
pkgs=()
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)
command -v cmake >/dev/null 2>&1 || pkgs+=(cmake)
command -v make >/dev/null 2>&1 || command -v ninja >/dev/null 2>&1 || pkgs+=(make)
command -v pkg-config >/dev/null 2>&1 || pkgs+=(pkg-config)
if ! pkg-config --exists libuv 2>/dev/null; then pkgs+=(libuv1-dev); fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ $install = 1 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=sudo; else sudo=none; fi
    fi
    if [ "$sudo" = none ]; then
      echo "run.sh: missing ${pkgs[*]} and not root: not installing them" >&2
    else
      echo "run.sh: installing ${pkgs[*]}" >&2
      $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${pkgs[@]}" >&2 || echo "run.sh: apt-get install failed" >&2
    fi
  else
    echo "run.sh: missing ${pkgs[*]} (no apt-get, or --no-install)" >&2
  fi
fi
for t in cmake pkg-config; do
  command -v $t >/dev/null 2>&1 || { echo "run.sh: $t is required" >&2; exit 2; }
done
have_uv=0; pkg-config --exists libuv 2>/dev/null && have_uv=1
have_node=0; command -v node >/dev/null 2>&1 && have_node=1

# ---- build ----------------------------------------------------------------------------------
jobs=${CP_BENCH_JOBS:-2}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCHILDPROC_BUILD_BENCH=ON \
  -DCHILDPROC_BUILD_TESTS=OFF -DCHILDPROC_BUILD_EXAMPLES=OFF -DCHILDPROC_BUILD_TOOLS=OFF \
  -DCHILDPROC_INSTALL=OFF >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log" >&2; echo "run.sh: cmake configure failed" >&2; exit 1; }
rm -f "$build.configure.log"
targets=(cp_bench cp_bench_table pool_bench)
[ $have_uv = 1 ] && targets+=(cp_bench_uv)
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$build/build.log" 2>&1 || {
  cat "$build/build.log" >&2; echo "run.sh: build failed" >&2; exit 1; }
bin=$build/bin
[ -x "$bin/cp_bench" ] || bin=$build/bench # a parent project that does not set the output directory
B=$bin/cp_bench UV=$bin/cp_bench_uv NODE_JS=$here/node_bench.js P=$bin/pool_bench
# The same cp_bench against the portable POSIX backend (posix_spawn / fork+exec, poll, SIGCHLD: what
# macOS and the BSDs run), for its row against raw posix_spawn.
cmake -S "$root" -B "$build/portable" -DCMAKE_BUILD_TYPE=Release -DCHILDPROC_BUILD_BENCH=ON \
  -DCHILDPROC_PORTABLE_POSIX=ON -DCHILDPROC_BUILD_TESTS=OFF -DCHILDPROC_BUILD_EXAMPLES=OFF \
  -DCHILDPROC_BUILD_TOOLS=OFF -DCHILDPROC_INSTALL=OFF >"$build/portable.configure.log" 2>&1 &&
  cmake --build "$build/portable" -j "$jobs" --target cp_bench >"$build/portable.build.log" 2>&1 || {
  cat "$build/portable.configure.log" "$build/portable.build.log" >&2; echo "run.sh: portable build failed" >&2; exit 1; }
BP=$build/portable/bin/cp_bench
[ -x "$BP" ] || BP=$build/portable/bench/cp_bench

# ---- sizes ----------------------------------------------------------------------------------
if [ $quick = 1 ]; then
  reps=1 N=40 N_FORK_BIG=3 PIPE=$((64 << 20)) CAP=8 CAP_SMALL=1 RTT=500 ONEWAY=2000 MANY=50 POOL=2000 ENVN=100000
  HEAP_A=64 HEAP_B=128
else
  N=2000 N_FORK_BIG=20 PIPE=$((1 << 30)) CAP=100 CAP_SMALL=10 RTT=20000 ONEWAY=100000 MANY=1000 POOL=50000 ENVN=100000
  HEAP_A=2048 HEAP_B=8192
fi

results=$build/bench-results.txt
log=$build/bench-run.log
: >"$results"
: >"$log"
failures=0

# run KEY CMD...: runs one benchmark, keeps its RESULT/SKIP lines, counts a failure.
run() {
  local key=$1 out rc
  shift
  out=$("$@" 2>>"$log")
  rc=$?
  printf '%s\n' "$out" | grep -E '^(RESULT|SKIP) ' >>"$results"
  printf '%s\n' "$out" | grep -vE '^(RESULT|SKIP) ' | sed '/^$/d' >>"$log"
  if [ $rc != 0 ]; then
    echo "run.sh: FAILED ($rc): $key: $*" >&2
    tail -n 5 "$log" >&2
    failures=$((failures + 1))
  fi
}
skip() { echo "SKIP $1 $2" >>"$results"; }
uv() { if [ $have_uv = 1 ]; then run "$1" "$UV" "${@:2}"; else skip "$2" "libuv-not-installed"; fi; }
node_() { if [ $have_node = 1 ]; then run "$1" node "$NODE_JS" "${@:2}"; else skip "$2" "node-not-installed"; fi; }

# ---- the machine ----------------------------------------------------------------------------
model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)
nodev=$([ $have_node = 1 ] && node --version || echo none)
uvv=$([ $have_uv = 1 ] && pkg-config --modversion libuv || echo none)
echo "childproc $(cat "$root/VERSION" 2>/dev/null) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')) benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, ${model:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; kernel $(uname -r); $glibc; node $nodev; libuv $uvv"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); repetitions: $reps$([ $quick = 1 ] && echo ' (--quick: smoke counts, figures meaningless)')"
echo >&2 "run.sh: running (about $([ $quick = 1 ] && echo '15 seconds' || echo "$((reps * 50 + big * 90)) seconds"))..."

# ---- the repetitions, interleaved -----------------------------------------------------------
for rep in $(seq 1 "$reps"); do
  echo >&2 "run.sh: repetition $rep of $reps"
  # spawn+wait, sequential: childproc's sync form and the three raw ways, in one small process
  run spawn_seq "$B" spawn --key spawn_seq --modes "cp-sync:$N,posix_spawn:$N,vfork:$N,fork:$N"
  uv spawn_seq.uv spawn --key spawn_seq.uv --count $N
  run spawn_seq_portable "$BP" spawn --key spawn_seq_portable --modes "cp-sync:$N,posix_spawn:$N"
  node_ spawn_seq.node spawnsync --key spawn_seq.node --count $N
  # 32 in flight on a loop
  run spawn_32 "$B" spawn --key spawn_32 --modes "cp-async:$N,posix_spawn:$N" --inflight 32
  uv spawn_32.uv spawn --key spawn_32.uv --count $N --inflight 32
  node_ spawn_32.node spawn --key spawn_32.node --count $N --inflight 32
  # stdout throughput
  run pipe.raw "$B" pipe --key pipe.raw --mode raw --bytes $PIPE
  run pipe.cp "$B" pipe --key pipe.cp --mode cp --bytes $PIPE
  # capture: each in its own process, so VmHWM is this capture's peak
  run capture.raw "$B" capture --key capture.raw --mode raw --mib $CAP
  run capture.exec "$B" capture --key capture.exec --mode exec --mib $CAP
  run capture.spawn "$B" capture --key capture.spawn --mode spawn --mib $CAP
  run capture10.exec "$B" capture --key capture10.exec --mode exec --mib $CAP_SMALL
  echo "RESULT capture.output.mib $CAP" >>"$results"
  # building a large environment (issue 14: linear, not quadratic)
  run env100k.raw "$B" env --key env100k.raw --mode raw --entries $ENVN
  run env100k.cp "$B" env --key env100k.cp --mode cp --entries $ENVN
  run env10k.cp "$B" env --key env10k.cp --mode cp --entries $((ENVN / 10))
  # the channel
  run rtt.raw "$B" rtt --key rtt.raw --mode raw --count $RTT
  run rtt.raw_epoll "$B" rtt --key rtt.raw_epoll --mode raw-epoll --count $RTT
  run rtt.raw_poll "$B" rtt --key rtt.raw_poll --mode raw-poll --count $RTT
  run rtt.cp_json "$B" rtt --key rtt.cp_json --mode cp-json --count $RTT
  run rtt.cp_binary "$B" rtt --key rtt.cp_binary --mode cp-binary --count $RTT
  node_ rtt.node rtt --key rtt.node --count $RTT
  run oneway.raw_json "$B" oneway --key oneway.raw_json --mode raw-json --count $ONEWAY
  run oneway.cp_json "$B" oneway --key oneway.cp_json --mode cp-json --count $ONEWAY
  run oneway.raw_epoll_json "$B" oneway --key oneway.raw_epoll_json --mode raw-epoll-json --count $ONEWAY
  run oneway.raw_binary "$B" oneway --key oneway.raw_binary --mode raw-binary --count $ONEWAY
  run oneway.raw_epoll_binary "$B" oneway --key oneway.raw_epoll_binary --mode raw-epoll-binary --count $ONEWAY
  run oneway.cp_binary "$B" oneway --key oneway.cp_binary --mode cp-binary --count $ONEWAY
  node_ oneway.node oneway --key oneway.node --count $ONEWAY
  # many children at once
  run many.raw "$B" many --key many.raw --mode raw --children $MANY
  run many.cp "$B" many --key many.cp --mode cp --children $MANY
  uv many.uv many --key many.uv --children $MANY --child "$B"
  # the worker pool against Node's fork() workers (pool_bench runs its Node baseline itself)
  run pool "$P" --key pool --tasks $POOL
done

# ---- big parents: one process per heap size (the heap is built once), after everything else ---
if [ $big = 1 ]; then
  echo >&2 "run.sh: parents with $HEAP_A and $HEAP_B MiB resident"
  run spawn_2g "$B" spawn --key spawn_2g --heap-mib $HEAP_A --reps "$reps" \
    --modes "cp-sync:$N,posix_spawn:$N,fork:$N_FORK_BIG" --small-key spawn_2g.small --small-count $N
  uv spawn_2g.uv spawn --key spawn_2g.uv --heap-mib $HEAP_A --reps "$reps" --count $N_FORK_BIG
  run spawn_8g "$B" spawn --key spawn_8g --heap-mib $HEAP_B --reps "$reps" \
    --modes "cp-sync:$N,posix_spawn:$N,fork:$N_FORK_BIG" --small-key spawn_8g.small --small-count $N
else
  for k in spawn_2g.cp_sync spawn_2g.posix_spawn spawn_2g.fork spawn_2g.uv spawn_8g.cp_sync \
    spawn_8g.posix_spawn spawn_8g.fork spawn_2g.small.cp_sync spawn_8g.small.cp_sync; do skip $k "--no-big"; done
fi

# ---- the table ------------------------------------------------------------------------------
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$bin/cp_bench_table" "$results" | tee "$build/bench-table.md"
table_rc=${PIPESTATUS[0]}
echo
echo "raw results: $results; commentary and errors: $log"
if [ $failures -gt 0 ] || [ "$table_rc" != 0 ]; then
  echo "run.sh: $failures benchmark(s) failed to run" >&2
  exit 1
fi
exit 0
