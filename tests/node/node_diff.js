// node_diff.js - Node's side of the differential test (tests/posix/test_node_diff.c).
//
//   node node_diff.js sync SPECFILE      runs each scenario of SPECFILE (one JSON object a line, written
//                                        by the C test) through child_process.spawnSync and prints one
//                                        result line per scenario
//   node node_diff.js async NAME...      runs the named async scenarios (events of spawn, exec and
//                                        execFile callbacks, fork channels) and prints one line each
//   node node_diff.js child-send3        a fork child: process.send() three times, then process.exit()
//   node node_diff.js child-echo         a fork child: sends the first message back and disconnects
//
// Result line of a sync scenario, tab-separated: name, status, signal, error code, stdout, stderr;
// "-" for null; a stream as lowercase hex when at most 4096 bytes, else "L<length>:<fnv1a32 hex>".
// Strings in a spec are hex of their UTF-8 bytes, so any byte reaches Node unchanged.
'use strict';
const cp = require('child_process');
const fs = require('fs');

function unhex(h) { return Buffer.from(h, 'hex').toString('utf8'); }

function fnv1a32(buf) {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) {
    h ^= buf[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function summary(buf) {
  if (!buf) buf = Buffer.alloc(0);
  if (buf.length <= 4096) return buf.length ? buf.toString('hex') : '';
  return 'L' + buf.length + ':' + fnv1a32(buf);
}

function specOptions(s) {
  const o = {};
  if (s.cwd != null) o.cwd = unhex(s.cwd);
  if (s.env) {
    const env = s.env.mode === 'extend' ? Object.assign({}, process.env) : {};
    for (const e of s.env.list) {
      const kv = unhex(e);
      const eq = kv.indexOf('=');
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    o.env = env;
  }
  if (s.input) o.input = s.input.hex != null ? Buffer.from(s.input.hex, 'hex') : Buffer.alloc(s.input.gen, 'x');
  if (s.timeout) o.timeout = s.timeout;
  if (s.killSignal) o.killSignal = s.killSignal;
  o.maxBuffer = s.maxBuffer === -1 ? Infinity : (s.maxBuffer || 1024 * 1024);
  if (s.shell) o.shell = true;
  return o;
}

function runSync(specFile) {
  const lines = fs.readFileSync(specFile, 'utf8').split('\n').filter((l) => l.length);
  const out = [];
  for (const line of lines) {
    const s = JSON.parse(line);
    const file = unhex(s.file);
    const args = s.args.map(unhex);
    const r = cp.spawnSync(file, args, specOptions(s));
    out.push([s.name, r.status == null ? '-' : String(r.status), r.signal || '-',
              r.error ? r.error.code : '-', summary(r.stdout), summary(r.stderr)].join('\t'));
  }
  fs.writeSync(1, out.join('\n') + '\n');
}

// ---- async scenarios: each prints its events in a normalised form ----

function events(child, done) {
  const ev = [];
  child.on('spawn', () => ev.push('spawn'));
  child.on('error', (e) => ev.push('error:' + e.code));
  if (child.stdout) child.stdout.on('data', () => {});
  if (child.stderr) child.stderr.on('data', () => {});
  child.on('message', (m) => ev.push('message:' + JSON.stringify(m)));
  child.on('exit', (code, sig) => ev.push('exit:' + code + ':' + sig));
  child.on('disconnect', () => ev.push('disconnect'));
  child.on('close', (code, sig) => { ev.push('close:' + code + ':' + sig); done(ev.join(' ')); });
}

// An exec/execFile callback, normalised: ok, or failed with the exit status / signal / cause.
function execResult(err, stdout, stderr) {
  const o = Buffer.byteLength(stdout || ''), e = Buffer.byteLength(stderr || '');
  if (!err) return `ok out=${o} err=${e}`;
  let cause = 'exit';
  if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') cause = 'maxbuffer';
  else if (err.killed) cause = 'killed';
  else if (typeof err.code === 'string') cause = err.code;
  const status = typeof err.code === 'number' ? err.code : '-';
  return `failed cause=${cause} status=${status} signal=${err.signal || '-'} out=${o} err=${e}`;
}

function asyncScenario(name, helper, self, done) {
  const t0 = Date.now();
  const within = (ms) => (Date.now() - t0 <= ms ? 'in-time' : 'late');
  switch (name) {
    case 'spawn-exit-3':
      return events(cp.spawn(helper, ['exit', '3']), done);
    case 'spawn-enoent':
      return events(cp.spawn('/nonexistent/prog'), done);
    case 'spawn-kill-term': {
      const c = cp.spawn(helper, ['sleep', '20000']);
      c.on('spawn', () => c.kill('SIGTERM'));
      return events(c, done);
    }
    case 'spawn-stdin-cat': {
      const c = cp.spawn(helper, ['cat']);
      let got = '';
      c.stdout.on('data', (d) => { got += d; });
      c.stdin.end('hello');
      return events(c, (ev) => done(ev + ' stdout=' + got));
    }
    case 'spawn-timeout':
      return events(cp.spawn(helper, ['sleep', '20000'], { timeout: 200 }), done);
    case 'exec-exit-2':
      return cp.exec(`"${helper}" exit 2`, (e, o, er) => done(execResult(e, o, er)));
    case 'exec-ok':
      return cp.exec(`"${helper}" out 10`, (e, o, er) => done(execResult(e, o, er)));
    case 'exec-timeout':
      return cp.exec(`"${helper}" sleep 20000`, { timeout: 200 }, (e, o, er) => done(execResult(e, o, er)));
    case 'execfile-maxbuffer':
      return cp.execFile(helper, ['out', '5000'], { maxBuffer: 100 }, (e, o, er) => done(execResult(e, o, er)));
    case 'execfile-signal':
      return cp.execFile(helper, ['signal', 'TERM'], (e, o, er) => done(execResult(e, o, er)));
    case 'exec-timeout-grandchild':
      return cp.exec(`"${helper}" hold out 3000 sleep 3000`, { timeout: 300 },
                     (e, o, er) => done(execResult(e, o, er).replace(/ out=\d+/, '') + ' ' + within(1300)));
    case 'exec-exited-grandchild-timeout':
      return cp.exec('sleep 2.5 & echo hi', { timeout: 300 },
                     (e, o, er) => done(execResult(e, o, er).replace(/ out=\d+/, '') + ' ' + within(1300)));
    case 'fork-node-send3-exit': {
      const c = cp.fork(__filename, ['child-send3'], { silent: true });
      return events(c, done);
    }
    case 'fork-c-send3-exit': {
      const env = Object.assign({}, process.env, { CHILDPROC_WORKER: 'send3-exit' });
      const c = cp.spawn(self, [], { env, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
      return events(c, done);
    }
    case 'fork-echo-disconnect': {
      const c = cp.fork(__filename, ['child-echo'], { silent: true });
      c.on('spawn', () => c.send({ hello: 'world' }));
      return events(c, done);
    }
    default:
      return done('unknown');
  }
}

function runAsync(names) {
  const helper = process.env.CPDIFF_HELPER, self = process.env.CPDIFF_SELF;
  const next = (i) => {
    if (i === names.length) return;
    let finished = false;
    asyncScenario(names[i], helper, self, (line) => {
      if (finished) return;
      finished = true;
      fs.writeSync(1, names[i] + '\t' + line + '\n');
      setImmediate(() => next(i + 1));
    });
  };
  next(0);
}

const mode = process.argv[2];
if (mode === 'sync') runSync(process.argv[3]);
else if (mode === 'async') runAsync(process.argv.slice(3));
else if (mode === 'child-send3') {
  for (let i = 0; i < 3; i++) process.send({ i });
  process.exit(0);
} else if (mode === 'child-echo') {
  process.on('message', (m) => { process.send(m); process.disconnect(); });
} else {
  process.stderr.write('usage: node node_diff.js sync SPECFILE | async NAME...\n');
  process.exit(2);
}
