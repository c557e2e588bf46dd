// node_bench.js - the Node.js baselines, printed as cp_bench does ("RESULT <key> <value>").
//
//   node bench/node_bench.js spawnsync --key K --count N
//       child_process.spawnSync('/bin/true') N times, stdio inherited.        K.per_s, K.us
//   node bench/node_bench.js spawn --key K --count N [--inflight K]
//       async child_process.spawn('/bin/true'), K in flight, until N closed.   K.per_s, K.us
//   node bench/node_bench.js rtt --key K --count N [--warm-ms W]
//       fork() of this script, W ms (default 500) of uncounted round trips, then N round trips of a small object through send()/'message'
//       (the same 46-byte JSON text childproc's benchmark sends).            K.per_s, K.us
//   node bench/node_bench.js oneway --key K --count N [--size S]
//       N messages of S bytes of JSON (an object with one string member) one way, then one
//       acknowledgement; sends wait for their callback every 256 messages.   K.per_s, K.mib_s
//
// Times are taken inside Node (process.hrtime) around the loop, so Node's start-up is not counted,
// and a few untimed operations come first, as in the C programs.
'use strict';
const cp = require('child_process');

function opt(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
function result(key, v) { console.log(`RESULT ${key} ${Number(v.toPrecision(6))}`); }
function now() { return Number(process.hrtime.bigint()) / 1e9; }
function die(msg) { console.error('node_bench: ' + msg); process.exit(1); }

const cmd = process.argv[2];
const key = opt('--key', cmd);
const n = +opt('--count', 2000);

if (cmd === 'rtt-child') {
  process.on('message', (m) => process.send(m));
} else if (cmd === 'sink-child') {
  const want = +process.argv[3];
  let got = 0;
  process.on('message', () => { if (++got === want) process.send({ done: true }); });
  process.send({ ready: true }); // the parent times from here
} else if (cmd === 'spawnsync') {
  const run = (k) => {
    for (let i = 0; i < k; i++) {
      const r = cp.spawnSync('/bin/true', [], { stdio: 'inherit' });
      if (r.status !== 0) die('spawnSync failed: ' + (r.error || r.status));
    }
  };
  run(4);
  const t0 = now();
  run(n);
  const dt = now() - t0;
  result(key + '.per_s', n / dt);
  result(key + '.us', dt / n * 1e6);
} else if (cmd === 'spawn') {
  const inflight = +opt('--inflight', 1);
  const run = (k, done) => {
    let started = 0, closed = 0;
    const one = () => {
      started++;
      const c = cp.spawn('/bin/true', [], { stdio: 'inherit' });
      c.on('error', (e) => die('spawn: ' + e.message));
      c.on('close', (code) => {
        if (code !== 0) die('spawn: status ' + code);
        closed++;
        if (started < k) one();
        else if (closed === k) done();
      });
    };
    for (let i = 0; i < inflight && started < k; i++) one();
  };
  run(4, () => {
    const t0 = now();
    run(n, () => {
      const dt = now() - t0;
      result(key + '.per_s', n / dt);
      result(key + '.us', dt / n * 1e6);
    });
  });
} else if (cmd === 'rtt') {
  const msg = { seq: 1234567, cmd: 'ping', data: 'abcdefgh' };
  // as cp_bench: round trips for --warm-ms first (default 500), not counted
  const warmUntil = now() + +opt('--warm-ms', 500) / 1e3;
  const child = cp.fork(__filename, ['rtt-child']);
  let got = 0, warm = 0, t0 = 0;
  child.on('message', (m) => {
    if (m.seq !== msg.seq) die('wrong echo');
    got++;
    if (!warm && now() >= warmUntil) { warm = got; t0 = now(); }
    if (!warm || got < warm + n) { child.send(msg); return; }
    const dt = now() - t0;
    result(key + '.per_s', n / dt);
    result(key + '.us', dt / n * 1e6);
    child.disconnect();
  });
  child.send(msg);
} else if (cmd === 'oneway') {
  const size = +opt('--size', 1024);
  const msg = { d: 'x'.repeat(size - 8) }; // JSON.stringify: {"d":"..."} = size bytes
  const child = cp.fork(__filename, ['sink-child', String(n)]);
  let sent = 0, t0 = 0;
  const pump = () => {
    for (let i = 0; i < 255 && sent < n - 1; i++, sent++) child.send(msg);
    if (sent < n) { sent++; child.send(msg, pump); } // continue once this batch is written
  };
  child.on('message', (m) => {
    if (m.ready) { t0 = now(); pump(); return; }
    const dt = now() - t0;
    result(key + '.per_s', n / dt);
    result(key + '.mib_s', n * size / 1048576 / dt);
    child.disconnect();
  });
} else {
  die('usage: node node_bench.js spawnsync|spawn|rtt|oneway [--key K] [--count N] ...');
}
