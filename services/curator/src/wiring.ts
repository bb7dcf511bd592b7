import { Storage } from '@google-cloud/storage';
import { createOidcVerifier, type Logger } from '@strata/runtime';
import type { Express } from 'express';
import type pg from 'pg';
import { createApp } from './app.js';
import type { CuratorConfig } from './config.js';
import { createCurator } from './curate.js';
import { createGcsLakeReader } from './lake-reader.js';
import { createPool } from '@strata/runtime/postgres';
import { openDuckDbRollup } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireCurator(config: CuratorConfig, logger: Logger): { app: Express; pool: pg.Pool } {
  const pool = createPool(config.databaseUrl, { max: config.databasePoolMax }, logger);
  // STORAGE_EMULATOR_HOST, when set, is honoured by the client itself: no local branch here.
  const storage = new Storage(config.projectId ? { projectId: config.projectId } : {});
  const curator = createCurator({
    lake: createGcsLakeReader(storage.bucket(config.lakeBucket)),
    store: createPgSummaryStore(pool),
    openRollup: openDuckDbRollup,
    workDir: config.workDir,
    logger,
  });
  const verifier = createOidcVerifier({
    audience: config.schedulerAudience,
    serviceAccountEmail: config.schedulerServiceAccount,
    certsUrl: config.oidcCertsUrl,
  });
  return { app: createApp({ config, curator, verifier, logger }), pool };
}
