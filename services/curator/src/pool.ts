import type { Logger } from '@strata/runtime';
import pg from 'pg';

/**
 * The curator's pg pool. An idle client whose connection drops (a Cloud SQL failover or restart,
 * a server shutting down while the pool ends) makes the pool emit 'error'; with no listener that
 * event would crash the process, so it is logged and the pool opens a fresh client next time.
 */
export function createPool(databaseUrl: string, max: number, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // Only the message: pg-pool hangs the whole client object on the error.
  pool.on('error', (err) => logger.warn({ reason: err.message }, 'idle PostgreSQL connection failed'));
  return pool;
}
