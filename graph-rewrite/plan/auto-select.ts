/**
 * `--blocks auto`: choose which attention blocks to convert by measured fidelity. Greedy: at each step
 * convert the one remaining block that hurts least (given those already chosen), and go on while the
 * result stays within the budget — a maximum top-1 drop, or a minimum cosine similarity. The search
 * runs to the end so that the whole trade-off (blocks converted vs fidelity vs FLOPs) can be shown;
 * the selection is the last step within budget.
 */

/** Fidelity of one candidate selection, as measured on the calibration inputs. */
export interface SelectionScore {
  /** Top-1 accuracy lost against the original (labelled inputs), else the share of changed top-1 predictions. */
  readonly top1Drop: number;
  readonly cosine: number;
  readonly flops: number;
  /** With labels: the converted model's accuracy. */
  readonly accuracy?: number;
}

export type Budget = { readonly maxTop1Drop: number } | { readonly minCosine: number };

export interface TradeOffRow extends SelectionScore {
  /** Blocks converted at this step (sorted). */
  readonly blocks: readonly number[];
  /** The block this step added (undefined for the starting point). */
  readonly added?: number;
  readonly withinBudget: boolean;
}

export interface AutoSelection {
  readonly rows: readonly TradeOffRow[];
  /** The chosen blocks: those of the last row within budget. */
  readonly chosen: readonly number[];
  readonly evaluations: number;
}

export function withinBudget(score: SelectionScore, budget: Budget): boolean {
  // A tiny slack absorbs float noise in measured agreement (e.g. 1 − 0.99 vs 0.01).
  return 'maxTop1Drop' in budget ? score.top1Drop <= budget.maxTop1Drop + 1e-9 : score.cosine >= budget.minCosine - 1e-12;
}

/** Orders candidates: smaller top-1 drop first, then higher cosine. */
function better(a: SelectionScore, b: SelectionScore): boolean {
  if (Math.abs(a.top1Drop - b.top1Drop) > 1e-12) return a.top1Drop < b.top1Drop;
  return a.cosine > b.cosine;
}

/**
 * Runs the greedy search over `candidates` (block indices); `evaluate` converts a selection and
 * measures it. `onStep` reports progress (one call per evaluation).
 */
export async function greedySelect(candidates: readonly number[], evaluate: (blocks: readonly number[]) => Promise<SelectionScore>, budget: Budget, onStep?: () => void): Promise<AutoSelection> {
  let evaluations = 0;
  const measure = async (blocks: readonly number[]) => {
    evaluations++;
    const score = await evaluate(blocks);
    onStep?.();
    return score;
  };
  const start = await measure([]);
  const rows: TradeOffRow[] = [{ ...start, blocks: [], withinBudget: withinBudget(start, budget) }];
  let chosen: number[] = [];
  let current: number[] = [];
  let remaining = [...candidates];
  let stillWithin = true;
  while (remaining.length > 0) {
    let best: { block: number; score: SelectionScore } | undefined;
    for (const block of remaining) {
      const score = await measure([...current, block].sort((a, b) => a - b));
      if (!best || better(score, best.score)) best = { block, score };
    }
    current = [...current, best!.block].sort((a, b) => a - b);
    remaining = remaining.filter((b) => b !== best!.block);
    const ok = withinBudget(best!.score, budget);
    rows.push({ ...best!.score, blocks: current, added: best!.block, withinBudget: ok });
    // The selection is the prefix of steps that all stayed within budget.
    stillWithin &&= ok;
    if (stillWithin) chosen = current;
  }
  return { rows, chosen, evaluations };
}
