#!/usr/bin/env bash
# ci/demo.sh [build-dir] - the main job: installs what is missing, builds the library, cprun, the
# examples and the tests (Release), runs every example and a short cprun demo.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build}
ensure_native_deps
log "build ($dir)"
native_build "$dir" -DCMAKE_BUILD_TYPE=Release
bin=$dir/bin

cd "$CP_ROOT"
for src in examples/*.c; do
  name=$(basename "$src" .c)
  [ "$name" = ipc-echo ] && continue # needs a parent with a channel: run under Node below
  log "example: $name"
  "$bin/$name"
done

log "example: ipc-echo, answering a Node parent over the channel"
node -e "
const c = require('child_process').spawn(process.argv[1], [], {stdio: ['inherit', 'inherit', 'inherit', 'ipc']});
c.on('message', m => { console.log('node parent got', JSON.stringify(m)); c.disconnect(); });
c.on('exit', code => { console.log('ipc-echo exited with', code); process.exit(code); });
c.send({hello: 'from node'});
" "$bin/ipc-echo"

cprun=$bin/cprun
show() {
  printf '\n$ %s\n' "$*"
  set +e
  "$@"
  local rc=$?
  set -e
  echo "[exit status $rc]"
}
log "cprun demo"
show "$cprun" --version
show "$cprun" --json -- sh -c 'echo hello; echo "to stderr" >&2; exit 3'
show "$cprun" --timeout 0.3 --json -- sleep 5
show "$cprun" --json -- no-such-program-xyz
show "$cprun" --env GREETING=hi --shell 'echo "$GREETING from the shell"'
show "$cprun" --max-buffer 16 --json -- sh -c 'echo "this line is longer than sixteen bytes"'
echo
echo "demo done"
