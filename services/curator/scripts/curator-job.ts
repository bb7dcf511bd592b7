import type pg from 'pg';
import { ConfigError, createLogger, type Logger } from '@strata/runtime';
import { curatorJobEnvironment, type JobEnvironment } from '@strata/dev/local-lake';
import { loadJobConfig, type CuratorJobConfig } from '../src/config.js';
import type { CuratorDeps } from '../src/curate.js';
import { wireCuratorJobs } from '../src/wiring.js';

/** What a curator job run from a terminal (`npm run erase`, `npm run replay`) works with. */
export interface CuratorJob {
  job: JobEnvironment;
  config: CuratorJobConfig;
  logger: Logger;
  deps: CuratorDeps;
  pool: pg.Pool;
}

/** Prints the message and exits: 2 for bad arguments or configuration. */
export function fail(code: number, message: string): never {
  console.error(message);
  process.exit(code);
}

/**
 * The environment (curatorJobEnvironment: a deployed lake, or the local stack), its config read as
 * the curator reads it, and the job wiring. `refuse` says why this job cannot run there (exit 2).
 */
export async function openCuratorJob(usage: string, refuse?: (job: JobEnvironment) => string | undefined): Promise<CuratorJob> {
  const job = await curatorJobEnvironment().catch((err: Error) => fail(2, err.message));
  const refused = refuse?.(job);
  if (refused) {
    await job.close();
    fail(2, refused);
  }
  let config: CuratorJobConfig;
  try {
    // Quiet unless asked: the report is the output; warnings and errors go to stderr.
    config = loadJobConfig({ LOG_LEVEL: 'warn', ...job.env });
  } catch (err) {
    await job.close();
    if (err instanceof ConfigError) fail(2, `${err.message}\n${usage}`);
    throw err;
  }
  const logger = createLogger({ service: 'curator', level: config.logLevel }, process.stderr);
  const { deps, pool } = wireCuratorJobs(config, logger);
  return { job, config, logger, deps, pool };
}
