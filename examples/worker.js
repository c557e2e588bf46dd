// worker.js - a Node worker for examples/pool-sum, written the plain way: every message is a request
// with an "id"; the reply carries the same id and either "result" or "error".
//
//   pool-sum --workers 2 --tasks 2000 -- node examples/worker.js
process.on('message', (m) => {
  if (m && m.cmd === 'sum' && Array.isArray(m.data)) {
    process.send({ id: m.id, result: m.data.reduce((a, b) => a + b, 0) });
  } else {
    process.send({ id: m && m.id, error: 'expected {"cmd":"sum","data":[numbers]}' });
  }
});
