import type { Logger } from './logger.js';

/**
 * The signals: what each service reports about its work, declared once. A signal is one structured
 * log line: the human `message`, a `signal` field holding its stable name, and its declared fields.
 * The services emit them through `signal()`, which type-checks the fields against this declaration;
 * the local stack's counters (dev/src/counters.ts) read them by name, and the cloud's log-based
 * metrics (infra/components/monitoring.ts) filter on `jsonPayload.signal` and extract the declared
 * fields. Each service's signals test fails when it stops emitting one of its signals, or a field.
 *
 * A name or field is a contract with dashboards and alerts: add new ones, and never reuse a name for
 * a different meaning. Messages are for people and may be reworded; nothing matches on them.
 * https://cloud.google.com/logging/docs/logs-based-metrics
 */

export type SignalService = 'ingest' | 'writer' | 'curator';

export interface SignalField {
  /** `integer`: a count or size, emitted as a whole number; `number`: any finite number. */
  type: 'integer' | 'number' | 'string' | 'boolean';
  /** For numbers, in Cloud Monitoring's notation (UCUM): `1` a count, `By` bytes, `ms`, `s`. */
  unit?: '1' | 'By' | 'ms' | 's';
  /** A string of few values (a log type) that log-based metrics of the signal carry as a label. */
  label?: boolean;
  description: string;
}

export interface SignalDeclaration {
  service: SignalService;
  /** Cloud Logging severity follows the pino level (runtime's logger). */
  level: 'info' | 'warn' | 'error';
  /** The line's `message`. */
  message: string;
  /** When it is emitted. */
  description: string;
  fields: Readonly<Record<string, SignalField>>;
}

const count = (description: string): SignalField => ({ type: 'integer', unit: '1', description });
const logType = { type: 'string', label: true, description: 'The log type (`user_action`, …); a label of its metrics.' } as const satisfies SignalField;

export const SIGNALS = {
  'ingest.events_accepted': {
    service: 'ingest',
    level: 'info',
    message: 'events accepted',
    description: 'Once per request answered 202: every accepted event is durable in Pub/Sub.',
    fields: {
      accepted: count('Events accepted (answered with an event_id).'),
      published: count('Accepted events published to Pub/Sub for the lake; equal to `accepted`, since a request is answered 202 only once all of them are.'),
      messages: count("Pub/Sub messages the request was published as, the rejected events' quarantine messages included."),
    },
  },
  'ingest.events_rejected': {
    service: 'ingest',
    level: 'info',
    message: 'events rejected',
    description: 'Once per request some of whose events failed validation.',
    fields: {
      rejected: count('Events that failed validation.'),
      quarantined: { type: 'boolean', description: 'True: they were published for the writer to file in quarantine/ beside the accepted ones; false: the request was atomic and nothing of it was published.' },
    },
  },
  'ingest.request_rejected': {
    service: 'ingest',
    level: 'info',
    message: 'request rejected',
    description: 'A whole request refused before anything was published: 400 `invalid_request` (not a batch, too many events) or 413 `event_too_large`.',
    fields: {
      errors: count('Errors reported in the answer.'),
      status: { type: 'integer', description: 'The HTTP status answered.' },
    },
  },
  'ingest.publish_failed': {
    service: 'ingest',
    level: 'error',
    message: 'publish failed',
    description: 'Pub/Sub refused some of a request\'s messages; it is answered 503 and the producer retries.',
    fields: {
      published: count('Events of the request that are in Pub/Sub all the same (a retry with their event_ids is deduplicated).'),
      messages: count('Messages the request was published as.'),
      failedMessages: count('Messages Pub/Sub refused.'),
    },
  },
  'writer.partition_flushed': {
    service: 'writer',
    level: 'info',
    message: 'partition flushed',
    description: 'One per Parquet file written to events/, once it is durable in GCS.',
    fields: {
      log_type: logType,
      rows: count('Rows in the file.'),
      bytes: { type: 'integer', unit: 'By', description: 'Size of the file.' },
      flushLatencyMs: {
        type: 'number',
        unit: 'ms',
        description: "From the batch's first row arriving at the writer to its file being durable: what the writer adds to an event's time to the lake (at most the flush age plus the upload).",
      },
    },
  },
  'writer.quarantined': {
    service: 'writer',
    level: 'info',
    message: 'quarantined',
    description: 'One per JSON Lines file written to quarantine/ (events that failed validation, with their reasons).',
    fields: { log_type: logType, count: count('Records in the file.') },
  },
  'writer.dead_letters_filed': {
    service: 'writer',
    level: 'info',
    message: 'dead letters filed',
    description: 'One per JSON Lines file written to dead-letter/ (messages Pub/Sub dead-lettered after the writer refused every delivery).',
    fields: { log_type: logType, count: count('Records in the file.') },
  },
  'curator.run_finished': {
    service: 'curator',
    level: 'info',
    message: 'curation run finished',
    description: 'One per curation run, whatever its outcome (a run that crashes emits none).',
    fields: {
      scope: { type: 'string', description: '`window` (scheduled runs: the days that can still change) or `all` (a backfill).' },
      durationMs: { type: 'number', unit: 'ms', description: 'How long the run took.' },
      daysChanged: count('Days with new, changed or compactable hours: the work found.'),
      daysCurated: count('Days curated.'),
      daysFailed: count('Days that could not be curated (each also emits curator.day_failed); retried next run.'),
      daysLocked: count('Days another instance was curating.'),
      daysLeft: count('Days not started because the run spent its time budget; the next run starts with them.'),
      stoppedAtBudget: { type: 'boolean', description: 'True when the run spent its time budget.' },
      rollupRows: count('Rollup rows written.'),
      duplicatesRemoved: count('Rows dropped as duplicates of an event_id.'),
      compactions: count('Hours compacted.'),
      compactionsFailed: count('Hours that could not be compacted (curated from their files as they are).'),
      failures: count('Failures listed in the answer (the first 20).'),
      lagSeconds: {
        type: 'number',
        unit: 's',
        description:
          'How long the oldest change the run saw but left uncurated has waited: at the end of the run, its clock minus the write time of the oldest lake file in an hour of a day the run did not curate (the day failed, or the budget was spent before it), written after that hour was last curated. 0 when the run curated every change it listed. Days another instance held locked are that instance\'s to report. It grows run after run while the curator falls behind or a day keeps failing: alert on it.',
      },
    },
  },
  'curator.day_failed': {
    service: 'curator',
    level: 'error',
    message: 'day not curated; retried next run',
    description: 'One per day a run could not curate; the day keeps its old figures until a run curates it.',
    fields: {
      day: { type: 'string', description: '`<log_type>/<dt>`.' },
      reason: { type: 'string', description: 'Why, for a person.' },
    },
  },
} as const satisfies Record<string, SignalDeclaration>;

export type SignalName = keyof typeof SIGNALS;

type Declared<N extends SignalName> = (typeof SIGNALS)[N]['fields'];
type FieldValue<F> = F extends { type: 'string' } ? string : F extends { type: 'boolean' } ? boolean : number;

/** The fields a signal must be emitted with, typed from its declaration. */
export type SignalFields<N extends SignalName> = { -readonly [K in keyof Declared<N>]: FieldValue<Declared<N>[K]> };

/** The declared fields of a signal that hold numbers: what a log-based metric can extract. */
export type NumericSignalField<N extends SignalName> = { [K in keyof Declared<N>]: FieldValue<Declared<N>[K]> extends number ? K : never }[keyof Declared<N>] & string;

/** A signal as read back from a log line: its name and its fields, typed together. */
export type SignalEntry = { [N in SignalName]: { name: N; fields: SignalFields<N> } }[SignalName];

export const SIGNAL_NAMES = Object.keys(SIGNALS) as SignalName[];

export const signalsOf = (service: SignalService): SignalName[] => SIGNAL_NAMES.filter((name) => SIGNALS[name].service === service);

export const isSignalName = (name: unknown): name is SignalName => typeof name === 'string' && Object.hasOwn(SIGNALS, name);

/**
 * Emits a signal. `fields` are checked against the declaration at compile time; `context` carries
 * what helps a person reading the line (object names, trace fields, an error) and is no contract.
 * Declared fields win over context, and the name over both.
 */
export function signal<N extends SignalName>(logger: Pick<Logger, 'info' | 'warn' | 'error'>, name: N, fields: SignalFields<N>, context: Record<string, unknown> = {}): void {
  const { level, message } = SIGNALS[name];
  const line: Record<string, unknown> = { ...context, ...fields, signal: name };
  logger[level](line, message);
}

function fieldProblem(value: unknown, field: SignalField): string | undefined {
  if (value === undefined) return 'missing';
  const ok =
    field.type === 'string' ? typeof value === 'string'
    : field.type === 'boolean' ? typeof value === 'boolean'
    : field.type === 'integer' ? Number.isInteger(value)
    : typeof value === 'number' && Number.isFinite(value);
  return ok ? undefined : `${JSON.stringify(value)} is not ${field.type === 'integer' ? 'an' : 'a'} ${field.type}`;
}

/**
 * What is wrong with a log line that names a signal: an undeclared name, another service or message
 * than declared, a declared field missing or of another type. Empty when the line is a signal as
 * declared (fields beyond the declared ones are context, and allowed).
 */
export function signalProblems(line: Record<string, unknown>): string[] {
  const name = line.signal;
  if (!isSignalName(name)) return [`${JSON.stringify(name)} is not a declared signal`];
  const declared: SignalDeclaration = SIGNALS[name];
  const problems: string[] = [];
  if (line.service !== undefined && line.service !== declared.service) problems.push(`${name}: emitted by ${String(line.service)}, declared for ${declared.service}`);
  if (line.message !== declared.message) problems.push(`${name}: message ${JSON.stringify(line.message)}, declared ${JSON.stringify(declared.message)}`);
  for (const [field, declaration] of Object.entries(declared.fields)) {
    const problem = fieldProblem(line[field], declaration);
    if (problem) problems.push(`${name}.${field}: ${problem}`);
  }
  return problems;
}

/** The signal a log line carries, or undefined when it carries none, or one that is not as declared. */
export function readSignal(line: Record<string, unknown>): SignalEntry | undefined {
  if (line.signal === undefined || signalProblems(line).length > 0) return undefined;
  return { name: line.signal, fields: line } as SignalEntry;
}

/**
 * The declaration as a markdown table, one row per signal and one per field: the README's table
 * of signals is this text (runtime/src/signals.test.ts keeps them equal).
 */
export function signalsMarkdown(): string {
  const rows = ['| signal | service | field | type | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const name of SIGNAL_NAMES) {
    const declared: SignalDeclaration = SIGNALS[name];
    const severity = declared.level === 'info' ? '' : ` (${declared.level === 'warn' ? 'WARNING' : 'ERROR'})`;
    rows.push(`| \`${name}\` | ${declared.service} | | | "${declared.message}"${severity}: ${declared.description} |`);
    for (const [field, f] of Object.entries(declared.fields)) {
      rows.push(`| | | \`${field}\` | ${f.type}${f.unit && f.unit !== '1' ? ` (${f.unit})` : ''} | ${f.description} |`);
    }
  }
  return rows.join('\n');
}
