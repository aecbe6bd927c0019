/** `--blocks auto`'s greedy search moved into the planner (graph-rewrite/plan/auto-select.ts); re-exported here. */
export * from '../../graph-rewrite/plan/auto-select.js';
