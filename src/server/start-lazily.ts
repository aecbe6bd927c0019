/**
 * The package root's `startServer`: the server's module (HTTP, metrics, onnxruntime) is imported on the
 * first call, so that `import 'vitlin'` stays light for those who only read, inspect and rewrite models.
 */
import type { RunningServer, ServerOptions } from './server.js';

/** Starts the inference server; see server.ts's startServer for the options and the errors. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const server = await import('./server.js');
  return server.startServer(options);
}
