/**
 * `vitlin serve` as a process: argument parsing, the JSON request log on stderr (or --quiet), and SIGTERM /
 * SIGINT with requests in flight — all finish with 200, the process exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../src/cli/serve.js';
import { directVit, fixture, maxAbsDiff, metric, metricsText, post, ROOT, vitRequest, waitFor } from './helpers.js';

const MAIN = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";

interface Child {
  readonly process: ChildProcess;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Runs `vitlin <args>` from the TypeScript sources (no build needed). */
function vitlin(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, stderr: () => stderr, exited };
}

/** Waits for the listening address: the 'listening' log line, or the --quiet one-liner. */
async function listeningUrl(child: Child): Promise<string> {
  let url: string | undefined;
  await waitFor(() => {
    url = /"msg":"listening","url":"([^"]+)"/.exec(child.stderr())?.[1] ?? /listening on (http:\/\/\S+)/.exec(child.stderr())?.[1];
    return url !== undefined;
  }, 30_000, 'the server to listen');
  return url!;
}

describe('parseServeArgs', () => {
  it('maps flags to server options', () => {
    expect(parseServeArgs(['m.onnx', 'dir', '--port', '0', '--host', '0.0.0.0', '--ep', 'cpu', '--max-batch', '16', '--max-delay-ms', '0',
      '--max-body', '1000', '--timeout-ms', '50', '--max-queue', '3', '--threads', '2', '--quiet', '--name', 'vit'])).toEqual({
      models: ['m.onnx', 'dir'], name: 'vit', host: '0.0.0.0', ep: 'cpu', port: 0, maxBatch: 16, maxDelayMs: 0, maxBodyBytes: 1000, timeoutMs: 50, maxQueue: 3, intraOpThreads: 2, log: false,
    });
  });

  it('takes the compression threshold', () => {
    expect(parseServeArgs(['m.onnx', '--compress-min-bytes', '0'])).toMatchObject({ compressMinBytes: 0 });
  });

  it.each([
    [[], /name at least one model/],
    [['m.onnx', '--ep', 'cuda'], /--ep must be one of cpu, webgpu, got 'cuda'/],
    [['m.onnx', '--max-batch', '0'], /--max-batch must be an integer ≥ 1, got '0'/],
    [['m.onnx', '--timeout-ms', '1.5'], /--timeout-ms must be an integer ≥ 1/],
    [['m.onnx', '--port=-1'], /--port must be an integer ≥ 0, got '-1'/],
    [['m.onnx', '--bogus'], /Unknown option '--bogus'/],
    [['m.onnx', '--compress-min-bytes', '1k'], /--compress-min-bytes must be an integer ≥ 0, got '1k'/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseServeArgs(argv)).toThrow(message);
  });
});

describe('vitlin serve process', () => {
  it('finishes in-flight requests on SIGTERM and exits 0', async () => {
    const child = vitlin(['serve', fixture('hf_vit_op17_dyn'), '--port', '0', '--max-batch', '64', '--max-delay-ms', '500']);
    try {
      const url = await listeningUrl(child);
      const inFlight = [1, 2, 3, 4].map((seed) => post(`${url}/v2/models/hf_vit_op17_dyn/infer`, vitRequest(seed)));
      await waitFor(async () => metric(await metricsText(url), 'vitlin_queue_depth', { model: 'hf_vit_op17_dyn' }) === 4, 10_000, '4 queued requests');
      child.process.kill('SIGTERM');
      const answers = await Promise.all(inFlight);
      for (const [i, answer] of answers.entries()) {
        expect(answer.status).toBe(200);
        expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(fixture('hf_vit_op17_dyn'), i + 1))).toBeLessThan(1e-4);
      }
      expect(await child.exited).toBe(0);
      await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
      const lines = child.stderr().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.filter((l) => l.route === 'infer').map((l) => l.status)).toEqual([200, 200, 200, 200]);
      expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it('logs nothing per request with --quiet, and stops on SIGINT', async () => {
    const child = vitlin(['serve', fixture('hf_vit_op12'), '--port', '0', '--quiet']);
    try {
      const url = await listeningUrl(child);
      expect((await post(`${url}/v2/models/hf_vit_op12/infer`, vitRequest(1))).status).toBe(200);
      child.process.kill('SIGINT');
      expect(await child.exited).toBe(0);
      expect(child.stderr()).toBe(`vitlin serve: listening on ${url} (hf_vit_op12)\n`);
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it.each([
    [['serve', 'no/such/model.onnx', '--port', '0'], 1, /^vitlin serve: [^:]*no\/such\/model.onnx: no such file or folder\n$/],
    [['serve', fixture('hf_vit_op12'), '--max-queue', 'x'], 2, /--max-queue must be an integer/],
    [['serve', fixture('hf_vit_op12'), '--port', '99999'], 2, /^vitlin serve: --port must be an integer ≤ 65535, got '99999'\n$/],
  ])('exits with an error for %j', async (args, code, message) => {
    const child = vitlin(args);
    expect(await child.exited).toBe(code);
    expect(child.stderr()).toMatch(message);
  });
});
