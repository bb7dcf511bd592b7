import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { RunningPostgres } from './throwaway.js';

/**
 * What a client of the PGlite server must know (read from pglite-socket 0.2.17's source):
 * PGlite is ONE PostgreSQL backend in single-user mode. PGLiteSocketServer accepts up to
 * `maxConnections` sockets (its default is 1; more are answered with a plain-text "Too many
 * connections" and closed) and multiplexes them onto that one backend message by message.
 * While a transaction is open only its connection's messages run, so transactions stay isolated,
 * but everything else is one shared session: advisory locks (pg_try_advisory_lock succeeds for
 * every "connection"), SET, temp tables and the unnamed prepared statement that two interleaved
 * extended-protocol queries would both use. So a service pointed at it must keep to one
 * connection (the local stack sets DATABASE_POOL_MAX=PGLITE_POOL_MAX); the extra slots are for a
 * migration runner, a query tool or a test's checks that run while that service is idle.
 */
export const PGLITE_POOL_MAX = 1;
const DEFAULT_MAX_CONNECTIONS = 8;

export interface PgliteServerOptions {
  /** Where PGlite keeps its files; in memory when unset (gone on stop). */
  dataDir?: string;
  /** 0 or unset: the OS picks a free port. */
  port?: number;
  host?: string;
  /**
   * The database name written into the URL. PGlite has a single database (`postgres`) and ignores
   * the name a client sends, so this only labels the URL; test helpers pass a name that says "test"
   * so that `assertTestDatabase` lets them truncate this throwaway instance.
   */
  database?: string;
  maxConnections?: number;
}

export interface RunningPglite extends Pick<RunningPostgres, 'url' | 'stop'> {
  db: PGlite;
}

/** PGlite behind the PostgreSQL wire protocol, so clients use `pg` exactly as against a real server. */
export async function startPgliteServer({
  dataDir,
  port = 0,
  host = '127.0.0.1',
  database = 'postgres',
  maxConnections = DEFAULT_MAX_CONNECTIONS,
}: PgliteServerOptions = {}): Promise<RunningPglite> {
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, port, host, maxConnections });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  // getServerConn() is "host:port" with the port the OS assigned.
  const boundPort = Number(server.getServerConn().split(':').pop());
  let stopping: Promise<void> | undefined;
  return {
    db,
    url: `postgres://postgres@${host}:${boundPort}/${database}`,
    stop: () =>
      (stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          await db.close();
        }
      })()),
  };
}
