import { Storage } from '@google-cloud/storage';
import { createOidcVerifier, createUlidFactory, type Logger } from '@strata/runtime';
import { checkRollups, createRegistry, loadBundledSchemas, ROLLUPS } from '@strata/schemas';
import type { Express } from 'express';
import type pg from 'pg';
import { createApp } from './app.js';
import type { CuratorConfig, CuratorJobConfig } from './config.js';
import { createCurator, type CuratorDeps } from './curate.js';
import { createEraser } from './erase.js';
import { createGcsLakeStore } from './lake-store.js';
import { createPool } from '@strata/runtime/postgres';
import { openDuckDbEngine } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

/** What every curator job (a run, an erasure) works with; the service and `npm run erase` both build it here. */
export function wireCuratorJobs(config: CuratorJobConfig, logger: Logger): { deps: CuratorDeps; pool: pg.Pool } {
  const pool = createPool(config.databaseUrl, { max: config.databasePoolMax }, logger);
  // STORAGE_EMULATOR_HOST, when set, is honoured by the client itself: no local branch here.
  const storage = new Storage(config.projectId ? { projectId: config.projectId } : {});
  // A declaration that reads a column its log types lack fails here, at start-up, not mid-run.
  const problems = checkRollups(ROLLUPS, createRegistry(loadBundledSchemas()));
  if (problems.length > 0) throw new Error(`the rollup declarations are wrong:\n${problems.join('\n')}`);
  const deps: CuratorDeps = {
    lake: createGcsLakeStore(storage.bucket(config.lakeBucket)),
    store: createPgSummaryStore(pool),
    openEngine: () => openDuckDbEngine(ROLLUPS),
    rollups: ROLLUPS,
    settings: config.curation,
    workDir: config.workDir,
    logger,
    newId: createUlidFactory(),
  };
  return { deps, pool };
}

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireCurator(config: CuratorConfig, logger: Logger): { app: Express; pool: pg.Pool } {
  const { deps, pool } = wireCuratorJobs(config, logger);
  const verifier = createOidcVerifier({
    audience: config.schedulerAudience,
    serviceAccountEmail: config.schedulerServiceAccount,
    certsUrl: config.oidcCertsUrl,
  });
  return { app: createApp({ config, curator: createCurator(deps), eraser: createEraser(deps), verifier, logger }), pool };
}
