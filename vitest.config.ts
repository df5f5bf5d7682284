import { defineConfig } from 'vitest/config';

// Two projects: pure/unit suites run in parallel; integration suites start real processes
// (etcd, knxd, cluster nodes) and run one file at a time so that lease timers on this
// 2-core machine are not starved by a neighbouring suite.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
