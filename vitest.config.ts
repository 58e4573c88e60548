import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // chDB binds one data directory per process: every test file gets its own process.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
