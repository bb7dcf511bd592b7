import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { createOidcVerifier, createUlidFactory, type Logger } from '@strata/runtime';
import { checkRollups, createRegistry, loadBundledSchemas, ROLLUPS } from '@strata/schemas';
import { openRegistrySource } from '@strata/schemas/postgres';
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
import { createReplayer, type Replayer } from './replay.js';
import { createPubsubReplayPublisher } from './replay-publisher.js';

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
    openEngine: (spillDir) => openDuckDbEngine(ROLLUPS, { memoryLimit: config.duckdbMemoryLimit, spillDir }),
    rollups: ROLLUPS,
    settings: config.curation,
    workDir: config.workDir,
    logger,
    newId: createUlidFactory(),
  };
  return { deps, pool };
}

export interface ReplayWiring {
  replayer: Replayer;
  /** Ends the registry's pool and the Pub/Sub client. */
  close(): Promise<void>;
}

/**
 * Replay's clients (replay.ts): the events topic, and the registry source ingest and the writer
 * use (bundled schemas plus the versions published to PostgreSQL). Neither connects before use.
 */
export function wireReplayer(config: CuratorJobConfig, deps: Pick<CuratorDeps, 'lake' | 'workDir' | 'settings' | 'logger'>): ReplayWiring {
  // PUBSUB_EMULATOR_HOST, when set, is honoured by the client itself.
  const pubsub = new PubSub(config.projectId ? { projectId: config.projectId } : {});
  const registry = openRegistrySource({ databaseUrl: config.schemaRegistryDatabaseUrl, ttlMs: config.schemaRegistryTtlMs, logger: deps.logger });
  const replayer = createReplayer({
    lake: deps.lake,
    registry: () => registry.current(),
    publisher: createPubsubReplayPublisher(pubsub.topic(config.topic)),
    workDir: deps.workDir,
    eventWindow: deps.settings.eventWindow,
    downloadConcurrency: deps.settings.downloadConcurrency,
    logger: deps.logger,
  });
  return {
    replayer,
    close: async () => {
      await Promise.allSettled([registry.close(), pubsub.close()]);
    },
  };
}

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireCurator(config: CuratorConfig, logger: Logger): { app: Express; pool: pg.Pool; replay: ReplayWiring } {
  const { deps, pool } = wireCuratorJobs(config, logger);
  const replay = wireReplayer(config, deps);
  const verifier = createOidcVerifier({
    audience: config.schedulerAudience,
    serviceAccountEmail: config.schedulerServiceAccount,
    certsUrl: config.oidcCertsUrl,
  });
  return { app: createApp({ config, curator: createCurator(deps), eraser: createEraser(deps), replayer: replay.replayer, verifier, logger }), pool, replay };
}
