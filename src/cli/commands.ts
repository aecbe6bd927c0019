/**
 * The command table: each command's name and one-line summary, and its module, imported only when the
 * command runs — `vitlin inspect` must not pay for onnxruntime or the HTTP server.
 */

/** A command: its --help text, and a run function returning the exit code. */
export interface Command {
  readonly name: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'inspect', summary: 'opset, size, parameters, attention blocks (convertible or why not) and FLOPs of a model', load: async () => (await import('./inspect.js')).inspectCommand },
  { name: 'convert', summary: 'replace softmax attention with fused Hydra / linear-angular ops, write, check', load: async () => (await import('./convert.js')).convertCommand },
  { name: 'verify', summary: 'compare a converted model with its original on random inputs, a sample file or images', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'classify', summary: 'top classes of images, with the preprocessing and labels in use said up front', load: async () => (await import('./classify.js')).classifyCommand },
  { name: 'bench', summary: 'latency, throughput and per-op time (attention share) of one or more models', load: async () => (await import('./bench.js')).benchCommand },
  { name: 'demo', summary: 'the main job on the bundled Fashion-MNIST ViTs (what `npm start` runs)', load: async () => (await import('./demo.js')).demoCommand },
  { name: 'serve', summary: 'serve models over HTTP (Open Inference Protocol v2, as KServe / Triton speak it)', load: async () => (await import('./serve.js')).serveCommand },
];
