import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Cluster tests start real etcd members and worker processes: keep files sequential
    // so that two suites never compete for the 2 cores and the loopback ports.
    fileParallelism: false,
    reporters: ['default'],
  },
});
