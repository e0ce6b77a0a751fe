import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['proxy/src/**/*.test.ts', 'injector/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
