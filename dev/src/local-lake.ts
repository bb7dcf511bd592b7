import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startGcsEmulator } from './gcs-emulator/index.js';
import { LOCAL, dataDirFromEnv, lakeDir, readRunningStack } from './local-config.js';
import { PGLITE_POOL_MAX, startPgliteServer } from './postgres/index.js';

type Env = Record<string, string | undefined>;

/**
 * Where a curator job run from a terminal (`npm run erase`, `npm run replay`) works: the
 * environment it reads, as the curator reads it (LAKE_BUCKET, STORAGE_EMULATOR_HOST, DATABASE_URL,
 * CURATOR_*, and PUBSUB_EMULATOR_HOST of a running stack), a phrase saying where that is, and what
 * to close after.
 */
export interface JobEnvironment {
  env: Env;
  where: string;
  /**
   * The local stack worked on: the running `npm start`, or its folders opened here, where no
   * Pub/Sub emulator runs (nothing can be published); undefined for a deployed lake.
   */
  stack?: 'running' | 'opened';
  close(): Promise<void>;
}

/**
 * The process's environment when it names a lake (LAKE_BUCKET). Otherwise the local stack's under
 * the data folder (STRATA_DATA_DIR, `.strata/`): the GCS emulator and database of the running
 * `npm start` (it announces them, local-config.ts), or when none runs the same folders, served
 * here for as long as the job runs; never both, since PGlite's folder is for one process at a
 * time. DATABASE_URL, when set, is the PostgreSQL the stack was started with.
 */
export async function curatorJobEnvironment(env: Env = process.env): Promise<JobEnvironment> {
  if (env.LAKE_BUCKET) return { env, where: `gs://${env.LAKE_BUCKET}`, close: async () => undefined };
  const dataDir = dataDirFromEnv(env);
  // One connection: PGlite serves a single session (pglite-server.ts), shared with the stack's curator.
  const local = { LAKE_BUCKET: LOCAL.bucket, GOOGLE_CLOUD_PROJECT: LOCAL.projectId, DATABASE_POOL_MAX: String(PGLITE_POOL_MAX), CURATOR_WORK_DIR: join(dataDir, 'curator-work') };
  // The storage client reads STORAGE_EMULATOR_HOST from the process itself; off Google Cloud there
  // is no metadata server for it to probe.
  // So does the Pub/Sub client with PUBSUB_EMULATOR_HOST: only a running stack has an emulator to publish to.
  const reach = (gcs: string, database: string, pubsub?: string) => {
    process.env.STORAGE_EMULATOR_HOST = gcs;
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    if (pubsub) process.env.PUBSUB_EMULATOR_HOST = pubsub;
    return { ...env, ...local, STORAGE_EMULATOR_HOST: gcs, DATABASE_URL: env.DATABASE_URL || database, ...(pubsub ? { PUBSUB_EMULATOR_HOST: pubsub } : {}) };
  };

  const running = readRunningStack(dataDir);
  if (running) return { env: reach(running.gcs, running.database, running.pubsub), where: `the local stack in ${dataDir} (the running npm start)`, stack: 'running', close: async () => undefined };
  if (!existsSync(lakeDir(dataDir))) throw new Error(`there is no local lake in ${dataDir}: run \`npm start\` first, or set LAKE_BUCKET (and DATABASE_URL) for a deployed lake`);
  const stops: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    const gcs = await startGcsEmulator({ root: join(dataDir, 'gcs') });
    stops.push(() => gcs.stop());
    let database = env.DATABASE_URL;
    if (!database) {
      const pglite = await startPgliteServer({ dataDir: join(dataDir, 'pglite') });
      stops.push(() => pglite.stop());
      database = pglite.url;
    }
    return { env: reach(gcs.url, database), where: `the local stack in ${dataDir} (npm start is not running: opened here)`, stack: 'opened', close };
  } catch (err) {
    await close();
    throw err;
  }
}
