/**
 * SIGTERM under load, many times: a real `vitlin serve`-style process (drain-child.ts) gets 8-16 requests,
 * each on its own connection, sent at seeded random moments around a real SIGTERM. Every response is
 * counted. Nothing may be lost:
 *  - a request fully sent before the signal is answered 200 (the server takes in what reached it);
 *  - no connection gets a partial answer, or none after the server logged one;
 *  - what the server logged per status is exactly what the clients received;
 *  - a request sent after the signal is refused (no listener) or answered 503.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { fixture, ROOT, vitRequest } from './helpers.js';

const ROUNDS = 50;
const MODEL = fixture('hf_vit_op17_dyn');
const PATH = '/v2/models/hf_vit_op17_dyn/infer';

interface Outcome {
  /** When the request's last byte was handed to the kernel (undefined: never). */
  writtenAt?: number;
  error?: string;
  response: string;
}

/** One request on its own connection; resolves when the server closes it (or after 20 s). */
function fire(port: number, body: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { response: '' };
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), 20_000);
    socket.on('connect', () => {
      socket.write(`POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        () => { outcome.writtenAt = performance.now(); });
    });
    socket.on('data', (chunk: Buffer) => {
      outcome.response += chunk.toString('latin1');
      if (complete(outcome.response)) socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => { outcome.error = error.code ?? error.message; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(outcome);
    });
  });
}

/** The status of a complete HTTP response (headers and Content-Length bytes of body), else undefined. */
function complete(response: string): number | undefined {
  const end = response.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(response.slice(0, end))?.[1]);
  if (response.length - end - 4 < length) return undefined;
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

interface RoundTally { sentBeforeSignal: number; ok: number; unavailable: number; refused: number; unanswered: number; lost: string[] }

describe('SIGTERM under load', () => {
  it(`loses no response in ${ROUNDS} rounds of 8-16 requests around a real SIGTERM`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'drain-child.ts'), MODEL, String(ROUNDS)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const serverLog: Record<string, unknown>[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        serverLog.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        serverLog.push({ msg: 'text', line });
      }
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const next = async (): Promise<{ round: number; port?: number; stopped?: boolean }> => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the server process ended early; its log: ${JSON.stringify(serverLog.slice(-5))}`);
      return JSON.parse(value as string);
    };
    const random = seededRandom(14);
    const bodies = Array.from({ length: 16 }, (_, i) => JSON.stringify(vitRequest(i)));
    const rounds: RoundTally[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const { port } = await next();
        const count = 8 + Math.floor(random() * 9);
        const sendAt = Array.from({ length: count }, () => random() * 40);
        const signalAt = 5 + random() * 40;
        const started = performance.now();
        let signalledAt = Infinity;
        const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - (performance.now() - started))));
        const requests = sendAt.map(async (at, i) => {
          await delay(at);
          return fire(port!, bodies[i]!);
        });
        await delay(signalAt);
        signalledAt = performance.now();
        child.kill('SIGTERM');
        const outcomes = await Promise.all(requests);
        expect(await next()).toEqual({ round, stopped: true });
        const tally: RoundTally = { sentBeforeSignal: 0, ok: 0, unavailable: 0, refused: 0, unanswered: 0, lost: [] };
        for (const [i, outcome] of outcomes.entries()) {
          const status = complete(outcome.response);
          const before = outcome.writtenAt !== undefined && outcome.writtenAt < signalledAt;
          if (before) tally.sentBeforeSignal++;
          const label = `round ${round} request ${i} (sent ${outcome.writtenAt === undefined ? 'never' : `${(outcome.writtenAt - signalledAt).toFixed(1)} ms after the signal`})`;
          if (status === 200) tally.ok++;
          else if (status === 503 && !before) tally.unavailable++;
          else if (outcome.response === '' && outcome.error === 'ECONNREFUSED') tally.refused++;
          else if (outcome.response === '' && !before) tally.unanswered++; // reset after the signal, never logged (checked below)
          else tally.lost.push(`${label}: ${status ?? 'incomplete'} ${JSON.stringify(outcome.response.slice(0, 120))} ${outcome.error ?? ''}`);
        }
        rounds.push(tally);
      }
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    // What the server answered, per round (its log: 'listening', requests, 'stopped'), against what arrived.
    const logged: { ok: number; unavailable: number; other: number }[] = [];
    for (const entry of serverLog) {
      if (entry.msg === 'listening') logged.push({ ok: 0, unavailable: 0, other: 0 });
      else if (entry.msg === 'request') {
        const current = logged.at(-1)!;
        if (entry.status === 200) current.ok++;
        else if (entry.status === 503) current.unavailable++;
        else current.other++;
      }
    }
    const lost = rounds.flatMap((r) => r.lost);
    const sum = (key: keyof Omit<RoundTally, 'lost'>) => rounds.reduce((n, r) => n + r[key], 0);
    console.log(`drain: ${JSON.stringify({ rounds: rounds.length, requests: sum('ok') + sum('unavailable') + sum('refused') + sum('unanswered') + lost.length,
      sentBeforeSignal: sum('sentBeforeSignal'), ok: sum('ok'), unavailable503: sum('unavailable'), refused: sum('refused'), resetAfterSignal: sum('unanswered'), lost: lost.length })}`);
    expect(lost).toEqual([]);
    expect(logged.map(({ ok, unavailable, other }) => ({ ok, unavailable, other })))
      .toEqual(rounds.map((r) => ({ ok: r.ok, unavailable: r.unavailable, other: 0 })));
    // The rounds really did put requests on both sides of the signal.
    expect(sum('sentBeforeSignal')).toBeGreaterThan(ROUNDS * 2);
    expect(sum('ok')).toBeGreaterThan(sum('sentBeforeSignal') - 1);
    const requests = sum('ok') + sum('unavailable') + sum('refused') + sum('unanswered');
    expect(requests - sum('sentBeforeSignal')).toBeGreaterThan(ROUNDS * 3);
  }, 180_000);
});
