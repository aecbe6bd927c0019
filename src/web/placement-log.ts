/**
 * Node placement from onnxruntime's verbose log (session_state.cc prints it while a session
 * initialises): "All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 92", or one
 * "Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3" line per provider, followed by the nodes.
 * onnxruntime-web has no profiler file to read, so the log is the only in-page source.
 */

export interface LogPlacement {
  /** Nodes per execution provider, e.g. { WebGpuExecutionProvider: 90, CPUExecutionProvider: 2 }. */
  readonly countByProvider: Readonly<Record<string, number>>;
}

const PLACED = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/;
/** The line each session's placement report starts with. */
const HEADER = /VerifyEachNodeIsAssignedToAnEp\]\s+Node placements\s*$/;

/** True for onnxruntime's placement lines: a report's header and its per-provider summaries. */
export function isPlacementLine(line: string): boolean {
  return PLACED.test(line) || HEADER.test(line);
}

/**
 * Reads the placement from log lines; when they hold several sessions' reports (a WebGPU attempt that
 * failed, then the WASM session), the last one. Undefined when no placement line is there.
 */
export function parsePlacementLog(lines: readonly string[]): LogPlacement | undefined {
  let countByProvider: Record<string, number> = {};
  let found = false;
  for (const line of lines) {
    if (HEADER.test(line)) {
      countByProvider = {};
      found = false;
      continue;
    }
    const match = PLACED.exec(line);
    if (!match) continue;
    found = true;
    countByProvider[match[1]!] = (countByProvider[match[1]!] ?? 0) + Number(match[2]);
  }
  return found ? { countByProvider } : undefined;
}

/** "all 92 nodes on WebGpuExecutionProvider" / "90 on WebGpuExecutionProvider, 2 on CPUExecutionProvider". */
export function describePlacement(placement: LogPlacement): string {
  const entries = Object.entries(placement.countByProvider);
  if (entries.length === 1) return `all ${entries[0]![1]} nodes on ${entries[0]![0]}`;
  return entries.map(([provider, count]) => `${count} on ${provider}`).join(', ');
}
