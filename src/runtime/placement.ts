/**
 * Where did onnxruntime run each node? Read from its profiler (every kernel event names its provider),
 * which works in-process for both EPs, unlike the native log lines that go straight to stderr.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileKernels, type ProfileEvent } from './profile-events.js';
import { createSession, type ExecutionProvider, type Feeds, type RuntimeSession, type SessionOptions } from './session.js';

export interface PlacedNode {
  readonly name: string;
  readonly opType: string;
  readonly provider: string;
}

export interface NodePlacement {
  /** Kernel launches per execution provider, e.g. { WebGpuExecutionProvider: 12, CPUExecutionProvider: 2 }. */
  readonly countByProvider: Readonly<Record<string, number>>;
  readonly nodes: readonly PlacedNode[];
  /** Nodes that did not run on the requested EP. */
  readonly fallbackNodes: readonly PlacedNode[];
}

const PROVIDER_OF_EP: Record<ExecutionProvider, string> = {
  cpu: 'CPUExecutionProvider',
  webgpu: 'WebGpuExecutionProvider',
};

/** Parses an onnxruntime profile into the nodes it ran, each with its provider. */
export function parseProfile(events: readonly ProfileEvent[], ep: ExecutionProvider): NodePlacement {
  const seen = new Map<string, PlacedNode>();
  for (const { name, opType, provider } of profileKernels(events).kernels) {
    if (provider !== undefined) seen.set(name, { name, opType, provider });
  }
  const nodes = [...seen.values()];
  const countByProvider: Record<string, number> = {};
  for (const node of nodes) countByProvider[node.provider] = (countByProvider[node.provider] ?? 0) + 1;
  return { countByProvider, nodes, fallbackNodes: nodes.filter((n) => n.provider !== PROVIDER_OF_EP[ep]) };
}

export interface PlacementOptions {
  /** Default 'all'; 'disabled' keeps every node's identity (a model node, or an inlined function-body node). */
  readonly graphOptimizationLevel?: SessionOptions['graphOptimizationLevel'];
}

/**
 * Runs `model` once on `ep` with profiling on and reports which provider ran each node. `feeds` may be
 * a function of the session's inputs (e.g. `(inputs) => randomFeeds(inputs, …)`).
 */
export async function measureNodePlacement(
  model: string | Uint8Array,
  feeds: Feeds | ((inputs: RuntimeSession['inputs']) => Feeds),
  ep: ExecutionProvider,
  options: PlacementOptions = {},
): Promise<NodePlacement> {
  const folder = mkdtempSync(join(tmpdir(), 'vitlin-profile-'));
  try {
    const session = await createSession(model, { ep, profileFilePrefix: join(folder, 'profile'), ...options });
    try {
      await session.run(typeof feeds === 'function' ? feeds(session.inputs) : feeds);
      const file = session.endProfiling();
      if (!file) throw new Error('onnxruntime wrote no profile file');
      return parseProfile(JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[], ep);
    } finally {
      await session.release();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
