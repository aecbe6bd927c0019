/**
 * onnxruntime's profiler output (a Chrome-trace JSON array) reduced to what vitlin reads from it: the
 * kernel launches of each node, with op type, execution provider and duration. Placement checks,
 * `vitlin bench` and bench/vit all read profiles through this one function.
 */

/** One event of an onnxruntime profile (the fields vitlin reads). */
export interface ProfileEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly ts?: number;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string; readonly provider?: string };
}

/** One kernel launch: `name` is the graph node's name (inlined function nodes: `_inlfunc_<function>_…`). */
export interface KernelEvent {
  readonly name: string;
  readonly opType: string;
  readonly provider?: string;
  readonly durationUs: number;
}

export interface ProfileKernels {
  /** Runs whose kernels are in `kernels` (warm-up runs excluded). */
  readonly runs: number;
  readonly kernels: readonly KernelEvent[];
}

const KERNEL_SUFFIX = '_kernel_time';

/**
 * The kernel launches of a profile, without those of the first `skipRuns` runs (warm-up): a node's
 * events lie inside its run's `model_run` span, so everything up to the end of the last skipped run is dropped.
 */
export function profileKernels(events: readonly ProfileEvent[], skipRuns = 0): ProfileKernels {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
  const lastSkipped = skipRuns > 0 ? runs[skipRuns - 1] : undefined;
  const after = lastSkipped ? (lastSkipped.ts ?? 0) + (lastSkipped.dur ?? 0) : -Infinity;
  const kernels: KernelEvent[] = [];
  for (const event of events) {
    if (event.cat !== 'Node' || !event.name?.endsWith(KERNEL_SUFFIX) || (event.ts ?? 0) <= after) continue;
    kernels.push({
      name: event.name.slice(0, -KERNEL_SUFFIX.length),
      opType: event.args?.op_name ?? '?',
      ...(event.args?.provider ? { provider: event.args.provider } : {}),
      durationUs: event.dur ?? 0,
    });
  }
  return { runs: Math.max(0, runs.length - skipRuns), kernels };
}
