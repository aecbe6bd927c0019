/**
 * `vitlin serve <model | folder>...`: the inference server on the command line. Runs until SIGTERM or
 * SIGINT, then shuts down gracefully (in-flight requests finish) and exits 0.
 */
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../runtime/session.js';
import { DEFAULTS, startServer, type ServerOptions } from '../server/server.js';
import { parseCommandArgs, UsageError } from './args.js';
import type { Command } from './commands.js';

const OPTIONS = {
  port: { type: 'string' },
  name: { type: 'string' },
  host: { type: 'string' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  'max-batch': { type: 'string' },
  'max-delay-ms': { type: 'string' },
  'max-body': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'max-queue': { type: 'string' },
  'compress-min-bytes': { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

function integer(flag: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min) throw new UsageError(`--${flag} must be an integer ≥ ${min}, got '${value}'`);
  if (n > max) throw new UsageError(`--${flag} must be an integer ≤ ${max}, got '${value}'`);
  return n;
}

/** TCP ports are 16-bit; 0 asks the OS for a free one. */
const MAX_PORT = 65535;

/** Parses `vitlin serve` arguments into server options. */
export function parseServeArgs(argv: string[]): ServerOptions {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 'serve');
  if (positionals.length === 0) throw new UsageError('name at least one model file or folder');
  const ep = values.ep ?? 'cpu';
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep)) throw new UsageError(`--ep must be one of ${EXECUTION_PROVIDERS.join(', ')}, got '${ep}'`);
  const numbers = {
    port: integer('port', values.port, 0, MAX_PORT),
    intraOpThreads: integer('threads', values.threads, 1),
    maxBatch: integer('max-batch', values['max-batch'], 1),
    maxDelayMs: integer('max-delay-ms', values['max-delay-ms'], 0),
    maxBodyBytes: integer('max-body', values['max-body'], 1),
    timeoutMs: integer('timeout-ms', values['timeout-ms'], 1),
    maxQueue: integer('max-queue', values['max-queue'], 1),
    compressMinBytes: integer('compress-min-bytes', values['compress-min-bytes'], 0),
  };
  const defined = Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined));
  return {
    models: positionals,
    ...(values.name !== undefined ? { name: values.name } : {}),
    host: values.host ?? DEFAULTS.host,
    ep: ep as ExecutionProvider,
    ...defined,
    ...(values.quiet ? { log: false as const } : {}),
  };
}

/** Resolves on the first SIGTERM or SIGINT (the handlers are removed then: a second one kills as usual). */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function runServe(argv: string[]): Promise<number> {
  const options = parseServeArgs(argv);
  // Listening for the signal before the address is out: an orchestrator may send it at once.
  const stopSignal = untilStopSignal();
  const server = await startServer(options);
  if (options.log === false) process.stderr.write(`vitlin serve: listening on ${server.url} (${server.models.join(', ')})\n`);
  await stopSignal;
  await server.close();
  return 0;
}

export const serveCommand: Command = {
  name: 'serve',
  help: [
    'Usage: vitlin serve <model.onnx | folder>... [options]',
    '',
    'Serves ONNX models over HTTP: the Open Inference Protocol v2 REST API (/v2/...), image classification',
    '(POST /v1/models/{name}/classify with a PNG or JPEG body, ?k=5) and Prometheus metrics (/metrics).',
    'A folder holds .onnx files, Hugging Face style model folders (config.json, preprocessor_config.json,',
    'onnx/model.onnx or model.onnx) and/or model repository folders (<model>/vitlin.json, <model>/<version>/model.onnx,',
    'as Triton lays them out; see docs/serve.md); a model is named after its file (without .onnx) or its folder.',
    '',
    'Options:',
    `  --host HOST          address to listen on (default ${DEFAULTS.host})`,
    '  --name NAME          serve the single model found under this name',
    `  --port N             port; 0 picks a free one (default ${DEFAULTS.port})`,
    '  --ep cpu|webgpu      onnxruntime execution provider (default cpu)',
    '  --threads N          onnxruntime intra-op threads (default: onnxruntime\'s choice)',
    `  --max-batch N        most rows per run for models with a dynamic batch axis; 1 = no batching (default ${DEFAULTS.maxBatch})`,
    `  --max-delay-ms T     longest wait for a batch to fill (default ${DEFAULTS.maxDelayMs})`,
    `  --max-body BYTES     largest request body; larger is 413 (default ${DEFAULTS.maxBodyBytes})`,
    `  --timeout-ms T       deadline per request: 408 while the body arrives, 504 after (default ${DEFAULTS.timeoutMs})`,
    `  --max-queue N        most requests waiting per model; more is 503 (default ${DEFAULTS.maxQueue})`,
    `  --compress-min-bytes N  smallest answer compressed when Accept-Encoding asks (br, gzip, deflate) (default ${DEFAULTS.compressMinBytes})`,
    '  --quiet              no request log (default: one JSON line per request on stderr)',
    '',
    'SIGTERM / SIGINT: stop accepting, finish in-flight requests, release the models, exit 0.',
  ].join('\n'),
  run: runServe,
};
