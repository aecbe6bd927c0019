// Preloaded into a real `vitlin` process (NODE_OPTIONS=--import …): counts the onnxruntime sessions that
// the runtime layer publishes on its diagnostics channel and writes them to $VITLIN_SESSION_PROBE at exit.
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';

const report = { created: 0, released: 0, maxLive: 0, events: [] };
let live = 0;
subscribe('vitlin:runtime:session', (message) => {
  report.events.push(message);
  if (message.event === 'create') {
    report.created++;
    live++;
    report.maxLive = Math.max(report.maxLive, live);
  } else {
    report.released++;
    live--;
  }
});
process.on('exit', () => writeFileSync(process.env.VITLIN_SESSION_PROBE, JSON.stringify(report)));
