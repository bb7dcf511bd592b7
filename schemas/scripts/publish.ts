/**
 * npm run schemas:publish -- [--database-url URL]
 *
 * Publishes the log type versions in schemas/log-types/ to the schema_registry table, so running
 * services pick them up within their SCHEMA_REGISTRY_TTL_MS without a redeploy. Refuses (exit 1,
 * nothing written) when a version breaks compatibility or differs from one already published.
 */
import { parseArgs } from 'node:util';
import { loadBundledSchemas, loadEnvelope } from '../src/index.js';
import { describePublished, publishSchemas } from '../src/publish.js';

const { values } = parseArgs({ options: { 'database-url': { type: 'string' } } });
// A command-line tool: its flags and environment are its configuration.
// eslint-disable-next-line no-restricted-properties
const env = process.env;
const databaseUrl = values['database-url'] || env.SCHEMA_REGISTRY_DATABASE_URL || env.DATABASE_URL;
if (!databaseUrl) {
  console.error('usage: npm run schemas:publish -- --database-url postgres://… (or set SCHEMA_REGISTRY_DATABASE_URL or DATABASE_URL)');
  process.exit(2);
}

const say = (_fields: object, message: string) => console.error(message);
const result = await publishSchemas({
  databaseUrl,
  versions: loadBundledSchemas(),
  envelope: loadEnvelope(),
  logger: { info: say, warn: say, error: say },
});
if (!result.ok) {
  console.error(`refused to publish, nothing was written:\n${result.problems.join('\n')}`);
  process.exit(1);
}
console.log(describePublished(result));
