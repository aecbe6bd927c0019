/** `--blocks` (and the library's `blocks` option) as a plan reads it: all, none, auto, or a list of site numbers. */
import { UsageError } from '../errors.js';

/** What `--blocks` asked for: every convertible block, none, a list, or a greedy search. */
export type BlockSelection = { readonly kind: 'all' } | { readonly kind: 'none' } | { readonly kind: 'auto' } | { readonly kind: 'list'; readonly indices: readonly number[] };

/**
 * Parses `--blocks all|none|auto|0,3,10-11` against the model's `count` attention blocks; an index
 * outside 0…count−1 is a usage error naming the block and the range.
 */
export function parseBlockSelection(spec: string | undefined, count: number): BlockSelection {
  const text = (spec ?? 'all').trim();
  if (text === 'all' || text === 'none' || text === 'auto') return { kind: text };
  const indices = new Set<number>();
  const range = count === 0 ? 'out of range: the model has no attention blocks' : `out of range 0-${count - 1}`;
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part);
    if (!match) throw new UsageError(`--blocks: expected all, none, auto or a list like 0,3,10-11, got '${part.trim() || text}'`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new UsageError(`--blocks: range '${part.trim()}' is backwards`);
    for (let i = from; i <= to; i++) {
      if (i >= count) throw new UsageError(`--blocks: block ${i} is ${range}`);
      indices.add(i);
    }
  }
  return { kind: 'list', indices: [...indices].sort((a, b) => a - b) };
}
