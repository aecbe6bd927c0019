import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // onnxruntime sessions and large buffers: keep workers few on 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
  },
});
