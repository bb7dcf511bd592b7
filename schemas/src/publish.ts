import pg from 'pg';
import { checkHistory, formatProblem } from './compat.js';
import type { JsonSchema, LogTypeVersion } from './log-type.js';
import {
  identityProblem,
  migrateRegistry,
  readPublished,
  sameSchema,
  versionKey,
  type PublishedVersion,
  type RegistryLogger,
} from './registry-table.js';

export type PublishPlan =
  | { ok: true; toInsert: LogTypeVersion[]; alreadyPresent: number }
  | { ok: false; problems: string[] };

export type PublishResult =
  | { ok: true; published: LogTypeVersion[]; alreadyPresent: number }
  | { ok: false; problems: string[] };

/**
 * What publishing `files` onto the `existing` rows would do, or why it must not happen (one line per
 * problem). Refused: a file that differs from the already published version of the same number
 * (published versions are immutable), and any history that checkHistory rejects. The history is the
 * ACTIVE rows plus the files, the same set the services serve, so what publish accepts they serve.
 */
export function planPublish(existing: PublishedVersion[], files: LogTypeVersion[], envelope: JsonSchema): PublishPlan {
  const problems: string[] = [];
  const published = new Map(existing.map((v) => [versionKey(v), v]));
  const seen = new Set<string>();
  const toInsert: LogTypeVersion[] = [];
  let alreadyPresent = 0;
  for (const file of files) {
    const key = versionKey(file);
    const name = `${file.logType} v${file.version}`;
    const identity = identityProblem(file);
    if (identity) problems.push(`✗ ${identity}`);
    if (seen.has(key)) problems.push(`✗ ${name} is given twice`);
    seen.add(key);
    const row = published.get(key);
    if (!row) toInsert.push(file);
    else if (sameSchema(row.schema, file.schema)) alreadyPresent++;
    else problems.push(`✗ ${name} differs from the version already published: published versions are immutable, publish the change as v${maxVersion(existing, file.logType) + 1}`);
  }
  const history = new Map(existing.filter((v) => v.active).map((v) => [versionKey(v), v as LogTypeVersion]));
  for (const file of files) history.set(versionKey(file), file);
  problems.push(...checkHistory(envelope, [...history.values()]).map(formatProblem));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, toInsert, alreadyPresent };
}

function maxVersion(versions: LogTypeVersion[], logType: string): number {
  return Math.max(0, ...versions.filter((v) => v.logType === logType).map((v) => v.version));
}

/**
 * Publishes log type versions to the registry table (created if needed): all of them in one
 * transaction, or none when planPublish refuses. Concurrent publishers queue on a transaction-level
 * advisory lock, so each one plans against the rows the previous one committed.
 */
export async function publishSchemas({
  databaseUrl,
  versions,
  envelope,
  logger,
}: {
  databaseUrl: string;
  versions: LogTypeVersion[];
  envelope: JsonSchema;
  logger?: RegistryLogger;
}): Promise<PublishResult> {
  await migrateRegistry(databaseUrl, logger);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query("select pg_advisory_xact_lock(hashtext('strata schema_registry publish'))");
    const plan = planPublish(await readPublished(client, { activeOnly: false }), versions, envelope);
    if (!plan.ok) {
      await client.query('rollback');
      return plan;
    }
    if (plan.toInsert.length > 0) {
      const rows = plan.toInsert.map((v) => ({ log_type: v.logType, version: v.version, schema: v.schema }));
      await client.query(
        `insert into schema_registry (log_type, version, schema)
         select log_type, version, schema from jsonb_to_recordset($1::jsonb) as t(log_type text, version integer, schema jsonb)`,
        [JSON.stringify(rows)],
      );
    }
    await client.query('commit');
    return { ok: true, published: plan.toInsert, alreadyPresent: plan.alreadyPresent };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

/** "published user_action v2; 5 already present" */
export function describePublished(result: Extract<PublishResult, { ok: true }>): string {
  const names = result.published.map((v) => `${v.logType} v${v.version}`);
  return `${names.length > 0 ? `published ${names.join(', ')}` : 'nothing new to publish'}; ${result.alreadyPresent} already present`;
}
