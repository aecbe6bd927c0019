/**
 * The record of every attempt to match a rule at an anchor: whether it matched, how far it got (nodes
 * bound), and why it stopped. For an anchor no rule matched, the attempt that got furthest explains it
 * to the user: "Softmax '/head/Softmax': its input comes from Gemm '/head/Gemm', not MatMul".
 */

import type { Node } from '../ir/node.js';
import { describeNode, type MatchFailure } from './match-context.js';

export interface MatchAttempt {
  readonly rule: string;
  readonly anchor: Node;
  /** 'matched': pattern and check held; 'rejected': the pattern held but the check did not; 'failed': the pattern did not. */
  readonly outcome: 'matched' | 'rejected' | 'failed';
  /** Nodes bound when the attempt ended. */
  readonly progress: number;
  readonly reason?: string;
  /** Where the attempt stopped, when known. */
  readonly node?: Node;
}

export class MatchTracer {
  readonly #attempts: MatchAttempt[] = [];

  get attempts(): readonly MatchAttempt[] {
    return this.#attempts;
  }

  record(attempt: MatchAttempt): void {
    this.#attempts.push(attempt);
  }

  recordFailure(rule: string, anchor: Node, outcome: 'rejected' | 'failed', failure: MatchFailure): void {
    this.record({ rule, anchor, outcome, progress: failure.progress, reason: failure.reason, ...(failure.node ? { node: failure.node } : {}) });
  }

  /** Every attempt at `anchor`, in order. */
  attemptsAt(anchor: Node): MatchAttempt[] {
    return this.#attempts.filter((attempt) => attempt.anchor === anchor);
  }

  /** The unsuccessful attempt at `anchor` that got furthest (the first among equals), if any. */
  furthestFailure(anchor: Node): MatchAttempt | undefined {
    let best: MatchAttempt | undefined;
    for (const attempt of this.attemptsAt(anchor)) {
      if (attempt.outcome === 'matched') continue;
      if (best === undefined || attempt.progress > best.progress) best = attempt;
    }
    return best;
  }

  /** `Softmax '/x/Softmax': <reason> [rule softmax-attention, stopped at MatMul '/x/MatMul']`. */
  explain(anchor: Node): string | undefined {
    const best = this.furthestFailure(anchor);
    if (best === undefined) return undefined;
    const at = best.node !== undefined && best.node !== anchor ? `, stopped at ${describeNode(best.node)}` : '';
    return `${describeNode(anchor)}: ${best.reason ?? 'no match'} [rule ${best.rule}${at}]`;
  }
}
