import { defineConfig } from 'vitest/config';

// One project per workspace so `npm test -w <pkg>` and the root run see the same tests.
const workspaces = ['schemas', 'runtime', 'services/ingest', 'services/writer', 'services/curator', 'infra', 'dev', 'test', 'sdk/publisher', 'sdk/browser'];

export default defineConfig({
  test: {
    projects: workspaces.map((dir) => ({
      extends: true,
      test: {
        name: `@strata/${dir.split('/').pop()}`,
        root: dir,
        include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', '*.test.ts', 'e2e/**/*.test.ts', 'components/**/*.test.ts', 'bundle/**/*.test.ts', 'soak/**/*.test.ts'],
      },
    })),
    // Integration tests start real servers (emulators, PostgreSQL); give them room on a 2-core box.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
    // Off Google Cloud the auth library would probe the GCE metadata server (an address off this
    // machine); tests must only ever talk to loopback.
    env: { METADATA_SERVER_DETECTION: 'none' },
  },
});
