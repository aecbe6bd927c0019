/** The FLOP counter moved into the browser-safe planner (graph-rewrite/plan/flops.ts); re-exported here. */
export * from '../../graph-rewrite/plan/flops.js';
