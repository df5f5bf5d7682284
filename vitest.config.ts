import { defineConfig } from 'vitest/config';

// Two projects: pure/unit suites run in parallel; integration suites start real processes
// (etcd, knxd, cluster nodes) and run one file at a time so that lease timers on this
// 2-core machine are not starved by a neighbouring suite. The projects run one after the
// other (sequence.groupOrder; Vitest runs them at once otherwise), so the unit files' two
// minutes of load on both cores never overlap the timing-sensitive integration files.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
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
