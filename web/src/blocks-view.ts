/** The attention blocks table: one row per block found, with a checkbox for the convertible ones. */
import { byId, el } from './dom.js';
import type { BlockRow } from './rewriter.js';

export function renderBlocks(rows: readonly BlockRow[]): void {
  const body = byId<HTMLTableElement>('blocks-table').tBodies[0]!;
  body.replaceChildren(...rows.map((row) => {
    const index = row.index === undefined ? '—' : String(row.index);
    const box = el('input', { type: 'checkbox', checked: row.convertible, disabled: !row.convertible, value: index });
    box.className = 'block-select';
    return el('tr', { dataset: { block: index } },
      el('td', {}, box),
      el('td', {}, index),
      el('td', {}, row.style),
      el('td', {}, String(row.heads ?? '?')),
      el('td', {}, String(row.headDim ?? '?')),
      el('td', {}, String(row.tokens ?? '?')),
      row.convertible ? el('td', { className: 'yes' }, 'yes') : el('td', { className: 'no' }, `no: ${row.reason ?? 'unsupported'}`));
  }));
}

/** Indices of the blocks whose checkbox is ticked. */
export function selectedBlocks(): number[] {
  return [...document.querySelectorAll<HTMLInputElement>('input.block-select:checked')].map((box) => Number(box.value));
}

export function selectedAttention(): 'hydra' | 'linear-angular' {
  const value = document.querySelector<HTMLInputElement>('input[name="attention"]:checked')?.value;
  return value === 'linear-angular' ? 'linear-angular' : 'hydra';
}
