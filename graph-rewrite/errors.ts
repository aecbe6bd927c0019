/** vitlin's typed errors live in base/errors.ts (the foundation graph-rewrite and custom-ops share); re-exported here. */
export * from '../base/errors.js';
