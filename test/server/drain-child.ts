/**
 * The server side of drain.test.ts, as its own process: serves `model` for `rounds` rounds, each ended by
 * a real SIGTERM handled as `vitlin serve` handles it. Prints `{"round":n,"port":p}` when listening and
 * `{"round":n,"stopped":true}` after the drain; the JSON request log goes to stderr.
 */
import { untilStopSignal } from '../../src/cli/serve.js';
import { startServer } from '../../src/server/server.js';

const [model, rounds] = process.argv.slice(2);
for (let round = 0; round < Number(rounds); round++) {
  // A random batch delay per round: at SIGTERM, some requests are queued, some running, some being read.
  const stopSignal = untilStopSignal(); // before the port is out: the signal may follow at once
  const server = await startServer({ models: [model!], port: 0, maxBatch: 4, maxDelayMs: round % 4 === 0 ? 0 : 5 + (round * 7) % 40 });
  process.stdout.write(`${JSON.stringify({ round, port: server.port })}\n`);
  await stopSignal;
  await server.close();
  process.stdout.write(`${JSON.stringify({ round, stopped: true })}\n`);
}
