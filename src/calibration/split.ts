/**
 * Splitting an input set into disjoint, contiguous parts: the fitting part (the first items) and the
 * selection part (the last `share` of them), so that no figure is ever measured on what was fitted.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import type { InputSet } from '../eval/inputs.js';

/** Items [from, to) of `inputs` as an input set of their own. */
export function sliceInputs(inputs: InputSet, from: number, to: number, what: string): InputSet {
  const count = to - from;
  return {
    description: `items ${from}–${to - 1} (${count}) of ${inputs.description}`,
    count,
    ...(inputs.labels ? { labels: Array.from({ length: count }, (_, i) => inputs.labels![from + i]!) } : {}),
    ...(inputs.classes ? { classes: inputs.classes } : {}),
    feeds: (metadata, start, size) => {
      if (start < 0 || start + size > count) throw new InvalidArgumentError(`${what}: items ${start}–${start + size - 1} are out of range (0–${count - 1})`);
      return inputs.feeds(metadata, from + start, size);
    },
  };
}

/** The share of the inputs held out for selection and the report: ½ with `--blocks auto`, ¼ without. */
export function selectionShareFor(auto: boolean): number {
  return auto ? 0.5 : 0.25;
}

/** How many of `count` inputs the selection part gets: ⌈share·count⌉, leaving at least 1 on each side. */
export function heldOutCount(count: number, share: number): number {
  return Math.min(count - 1, Math.max(1, Math.ceil(count * share)));
}

/** The fitting part (first items) and the selection part (the last ⌈share·count⌉, at least 1 each). */
export function splitInputs(inputs: InputSet, share: number): { fitting: InputSet; selection: InputSet } {
  if (!(share > 0 && share < 1)) throw new InvalidArgumentError(`the selection share must be between 0 and 1, got ${share}`);
  if (inputs.count < 2) throw new InvalidArgumentError(`calibration needs at least 2 inputs (one to fit on, one to check on), ${inputs.description} has ${inputs.count}`);
  const held = heldOutCount(inputs.count, share);
  const cut = inputs.count - held;
  return { fitting: sliceInputs(inputs, 0, cut, 'fitting'), selection: sliceInputs(inputs, cut, inputs.count, 'selection') };
}
