/**
 * Creates an ingest API key: prints the key once (hand it to the producer, e.g. into its own
 * secret store) and the entry to add to INGEST_KEYS / INGEST_KEYS_FILE. Strata keeps only the
 * SHA-256, so a lost key cannot be recovered: create a new one and remove the old entry.
 *
 *   npm run keys:create -w services/ingest -- --name web-shop \
 *     --log-types user_action,impression --origins https://shop.example --points 2000 --duration 1
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@strata/runtime';
import { createKey, DEFAULT_RATE, type NewKey } from '../src/keys.js';

const USAGE = `usage: npm run keys:create -w services/ingest -- --name <name> [--log-types a,b] [--origins https://site.example,...] [--points N] [--duration SECONDS] [--json]
  --name        who the key is (a-z 0-9 . _ -); becomes the events' source
  --log-types   log types it may write (default: all)
  --origins     makes it a browser key usable only from these origins (default: a server key)
  --points      events per window per ingest instance (default ${DEFAULT_RATE.points})
  --duration    window in seconds (default ${DEFAULT_RATE.durationSeconds})
  --json        print {"key", "entry"} as one JSON line, for scripts`;

const list = (value: string | undefined) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean));

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ConfigError(`${flag} must be a whole number, got "${value}"`);
  return Number(value);
}

/** The CLI without its process: arguments in, text out (tested directly). */
export function run(args: string[]): { output: string; created: NewKey } {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      'log-types': { type: 'string' },
      origins: { type: 'string' },
      points: { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.name === undefined) throw new ConfigError('--name is required');
  const points = integer(values.points, '--points');
  const durationSeconds = integer(values.duration, '--duration');
  const logTypes = list(values['log-types']);
  const origins = list(values.origins);
  const created = createKey({
    name: values.name,
    ...(logTypes !== undefined && { logTypes }),
    ...(origins !== undefined && { origins }),
    ...((points !== undefined || durationSeconds !== undefined) && {
      rate: { points: points ?? DEFAULT_RATE.points, durationSeconds: durationSeconds ?? DEFAULT_RATE.durationSeconds },
    }),
  });
  if (values.json) return { created, output: `${JSON.stringify(created)}\n` };
  const kind = created.entry.origins ? `a browser key for ${created.entry.origins.join(', ')}` : 'a server key (refused from browsers)';
  const output = `New key "${created.entry.name}", ${kind}. It is shown only now; Strata keeps only its SHA-256:

  ${created.key}

Add this entry to the JSON array in INGEST_KEYS or INGEST_KEYS_FILE, then redeploy ingest:

  ${JSON.stringify(created.entry)}
`;
  return { created, output };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(run(process.argv.slice(2)).output);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  }
}
