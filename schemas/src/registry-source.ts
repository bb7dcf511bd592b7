import type pg from 'pg';
import { loadBundledSchemas, loadEnvelope } from './bundled.js';
import { checkHistory, formatProblem } from './compat.js';
import type { JsonSchema, LogTypeVersion } from './log-type.js';
import { createRegistry, type Registry } from './registry.js';
import {
  createRegistryPool,
  identityProblem,
  isMissingTable,
  readPublished,
  sameSchema,
  versionKey,
  type PublishedVersion,
  type RegistryLogger,
} from './registry-table.js';

/**
 * Where a service gets its registry from, per request: the bundled schemas, plus the versions
 * published to PostgreSQL since the service was deployed. A new version goes live within `ttlMs`
 * without a redeploy or restart.
 */
export interface RegistrySource {
  /** Never rejects: when the database fails, the last good registry (at worst the bundled one) is served. */
  current(): Promise<Registry>;
  /** Stops refreshing and ends the pool the source was given. Idempotent. */
  close(): Promise<void>;
}

export interface RegistrySourceOptions {
  bundled: LogTypeVersion[];
  envelope: JsonSchema;
  /** Published versions are read through it; the source owns it and ends it on close(). */
  pool?: pg.Pool;
  /** How long a loaded registry is served before the table is read again. */
  ttlMs: number;
  logger: RegistryLogger;
  /** Clock in ms, for tests. */
  now?: () => number;
}

export function createRegistrySource(options: RegistrySourceOptions): RegistrySource {
  const { bundled, envelope, pool, ttlMs, logger, now = Date.now } = options;
  const bundledRegistry = createRegistry(bundled, envelope);
  if (!pool) return { current: async () => bundledRegistry, close: async () => undefined };

  let served = bundledRegistry;
  // The rows `served` was built from: unchanged rows are neither recompiled nor warned about again.
  let servedRows: string | undefined;
  let loadedAt = -Infinity;
  let refreshing: Promise<Registry> | undefined;
  let closing: Promise<void> | undefined;

  const refresh = async (): Promise<Registry> => {
    try {
      const rows = await readPublished(pool, { activeOnly: true }).catch((err: unknown) => {
        if (!isMissingTable(err)) throw err;
        if (servedRows === undefined) logger.warn({}, 'schema_registry table not found: serving the bundled schemas (npm run schemas:publish creates it)');
        return [];
      });
      const fingerprint = JSON.stringify(rows);
      if (fingerprint !== servedRows) {
        served = rows.length === 0 ? bundledRegistry : buildRegistry(bundled, rows, envelope, logger);
        servedRows = fingerprint;
      }
    } catch (err) {
      const message = servedRows === undefined ? 'schema registry unreachable: serving the bundled schemas' : 'schema registry refresh failed: serving the last good registry';
      logger.error({ err }, message);
    }
    // Success or failure, the next attempt waits a full TTL: a database that is down is not hammered.
    loadedAt = now();
    return served;
  };

  return {
    current() {
      if (closing || now() - loadedAt < ttlMs) return Promise.resolve(served);
      // Single flight: every request that finds the registry stale waits on the same query.
      refreshing ??= refresh().finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    },
    close() {
      closing ??= (async () => {
        await refreshing;
        if (!pool.ended) await pool.end();
      })();
      return closing;
    },
  };
}

/**
 * The bundled versions plus the published ones that pass every check; each one left out is logged
 * with its reason. Bundled versions always stay: they are what the deployed code was tested with.
 */
export function buildRegistry(bundled: LogTypeVersion[], published: PublishedVersion[], envelope: JsonSchema, logger: RegistryLogger): Registry {
  const bundledByKey = new Map(bundled.map((v) => [versionKey(v), v]));
  const accepted = [...bundled];
  const skip = (v: LogTypeVersion, reasons: string[]) =>
    logger.warn({ log_type: v.logType, version: v.version, reasons }, `published ${v.logType} v${v.version} ignored: ${reasons.join('; ')}`);

  for (const candidate of published) {
    const own = bundledByKey.get(versionKey(candidate));
    if (own) {
      // Published versions are immutable, and the deployed code was tested with its own copy.
      if (!sameSchema(own.schema, candidate.schema)) skip(candidate, ['differs from the bundled version of the same number (the bundled one is served)']);
      continue;
    }
    const identity = identityProblem(candidate);
    if (identity) {
      skip(candidate, [identity]);
      continue;
    }
    // Only what this version adds to its log type's history counts against it: rows arrive in
    // version order, so an older published version is already in (or out of) `accepted`.
    const history = accepted.filter((v) => v.logType === candidate.logType);
    const before = new Set(checkHistory(envelope, history).map(formatProblem));
    const problems = checkHistory(envelope, [...history, candidate]).map(formatProblem).filter((p) => !before.has(p));
    if (problems.length > 0) {
      skip(candidate, problems);
      continue;
    }
    accepted.push(candidate);
  }

  const { registry, served } = compileIsolating(accepted, bundled.length, envelope, skip);
  const names = served.map((v) => `${v.logType} v${v.version}`);
  logger.info({ published: names }, `schema registry loaded: ${bundled.length} bundled, ${names.length} published version(s) served`);
  return registry;
}

/**
 * Compiles all versions at once; if that throws (a schema ajv refuses in strict mode, a reused $id),
 * finds the published versions at fault one by one so the rest are still served.
 */
function compileIsolating(
  versions: LogTypeVersion[],
  bundledCount: number,
  envelope: JsonSchema,
  skip: (v: LogTypeVersion, reasons: string[]) => void,
): { registry: Registry; served: LogTypeVersion[] } {
  try {
    return { registry: createRegistry(versions, envelope), served: versions.slice(bundledCount) };
  } catch {
    const kept = versions.slice(0, bundledCount);
    let registry = createRegistry(kept, envelope);
    for (const candidate of versions.slice(bundledCount)) {
      try {
        registry = createRegistry([...kept, candidate], envelope);
        kept.push(candidate);
      } catch (err) {
        skip(candidate, [`does not compile: ${(err as Error).message}`]);
      }
    }
    return { registry, served: kept.slice(bundledCount) };
  }
}

/**
 * The services' source, from their config: the schemas bundled with the code, plus the published
 * ones when a registry database is configured. Without one it is the same source, serving bundled only.
 */
export function openRegistrySource({ databaseUrl, ttlMs, logger }: { databaseUrl: string | undefined; ttlMs: number; logger: RegistryLogger }): RegistrySource {
  return createRegistrySource({
    bundled: loadBundledSchemas(),
    envelope: loadEnvelope(),
    pool: databaseUrl ? createRegistryPool(databaseUrl, logger) : undefined,
    ttlMs,
    logger,
  });
}
