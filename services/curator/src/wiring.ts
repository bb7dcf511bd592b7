import { Storage } from '@google-cloud/storage';
import { createOidcVerifier, createUlidFactory, type Logger } from '@strata/runtime';
import { checkRollups, createRegistry, loadBundledSchemas, ROLLUPS } from '@strata/schemas';
import type { Express } from 'express';
import type pg from 'pg';
import { createApp } from './app.js';
import type { CuratorConfig } from './config.js';
import { createCurator } from './curate.js';
import { createGcsLakeStore } from './lake-store.js';
import { createPool } from '@strata/runtime/postgres';
import { openDuckDbEngine } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireCurator(config: CuratorConfig, logger: Logger): { app: Express; pool: pg.Pool } {
  const pool = createPool(config.databaseUrl, { max: config.databasePoolMax }, logger);
  // STORAGE_EMULATOR_HOST, when set, is honoured by the client itself: no local branch here.
  const storage = new Storage(config.projectId ? { projectId: config.projectId } : {});
  // A declaration that reads a column its log types lack fails here, at start-up, not mid-run.
  const problems = checkRollups(ROLLUPS, createRegistry(loadBundledSchemas()));
  if (problems.length > 0) throw new Error(`the rollup declarations are wrong:\n${problems.join('\n')}`);
  const curator = createCurator({
    lake: createGcsLakeStore(storage.bucket(config.lakeBucket)),
    store: createPgSummaryStore(pool),
    openEngine: () => openDuckDbEngine(ROLLUPS),
    rollups: ROLLUPS,
    settings: config.curation,
    workDir: config.workDir,
    logger,
    newId: createUlidFactory(),
  });
  const verifier = createOidcVerifier({
    audience: config.schedulerAudience,
    serviceAccountEmail: config.schedulerServiceAccount,
    certsUrl: config.oidcCertsUrl,
  });
  return { app: createApp({ config, curator, verifier, logger }), pool };
}
