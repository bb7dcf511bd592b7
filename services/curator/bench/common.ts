/**
 * What the curator benchmarks share: knobs from the environment, number formatting, best-of-N
 * timing, a quiet logger, and DuckDB SQL that generates writer-shaped user_action rows.
 */
import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '@strata/runtime';

// A benchmark's knobs are its environment.
// eslint-disable-next-line no-restricted-properties
export const env = process.env;

export const positive = (name: string, fallback: number): number => {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
};

export const integer = (name: string, fallback: number): number => {
  const value = positive(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`${name} must be a whole number, got "${env[name]}"`);
  return value;
};

export const text = (name: string, fallback: string): string => {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? fallback : raw;
};

export const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const seconds = (ms: number, digits = 2): string => fmt(ms / 1000, digits);

export const bytes = (n: number): string => (n >= 1024 * 1024 ? `${fmt(n / 1024 / 1024, 1)} MiB` : `${fmt(n / 1024, 1)} KiB`);

/** Runs `fn` `runs` times, timing each (ms); the last result is returned with the timings. */
export async function timed<T>(runs: number, fn: (run: number) => Promise<T>, onRun?: (run: number, ms: number) => void): Promise<{ times: number[]; best: number; result: T }> {
  const times: number[] = [];
  let result: T | undefined;
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    result = await fn(run);
    const ms = performance.now() - started;
    times.push(ms);
    onRun?.(run, ms);
  }
  return { times, best: Math.min(...times), result: result as T };
}

/** "met (x% better)" / "NOT met (x% short)" for a figure that must be ≥ target (higher is better). */
export function atLeast(value: number, target: number): { met: boolean; text: string } {
  const met = value >= target;
  return { met, text: met ? `met (${fmt((value / target - 1) * 100)}% above)` : `NOT met (${fmt((1 - value / target) * 100)}% short)` };
}

/** The same for a figure that must be ≤ target (lower is better). */
export function atMost(value: number, target: number): { met: boolean; text: string } {
  const met = value <= target;
  return { met, text: met ? `met (${fmt((1 - value / target) * 100)}% under)` : `NOT met (${fmt((value / target - 1) * 100)}% over)` };
}

export function machineCores(): number | undefined {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length || undefined;
  } catch {
    return undefined;
  }
}

/** The curator's logger at warn, so a benchmark prints its tables, not every "day curated". */
export const quietLogger = (): Logger => createLogger({ service: 'curator-bench', level: text('BENCH_LOG_LEVEL', 'warn') });

export const progress = (message: string): void => console.log(`  · ${message}`);

export const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

export const USER_ACTION_EVENTS = ['page_view', 'product_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout_started'] as const;

/**
 * A DuckDB SELECT of user_action rows numbered `from` ≤ i < `to`, with the writer's column names and
 * types for the columns the rollups read and a few more: event_id unique per i; event one of 6;
 * ts spread uniformly over [startIso, startIso + spanSeconds); received_at 0–5 s after ts; user_id
 * one of `users`. Every `dupEvery`-th event is there twice (a redelivery: same event, received
 * 1–60 s later), so dedup has real work; with `dupEvery` 0 none is (what compaction leaves). hash()
 * makes it deterministic. The session's TimeZone must be UTC.
 */
export function userActionSql({ from, to, startIso, spanSeconds, users, dupEvery }: { from: number; to: number; startIso: string; spanSeconds: number; users: number; dupEvery: number }): string {
  const events = `[${USER_ACTION_EVENTS.map((e) => `'${e}'`).join(', ')}]`;
  const base = `
    select i,
      hash(i * 31 + 1) as h1, hash(i * 31 + 2) as h2, hash(i * 31 + 3) as h3,
      timestamptz '${startIso}' + to_microseconds(cast(hash(i * 31 + 4) % ${Math.round(spanSeconds * 1e6)} as bigint)) as t
    from range(${from}, ${to}) r(i)`;
  const row = (receivedOffset: string) => `
    select
      'e-' || lpad(cast(i as varchar), 10, '0') as event_id,
      ${events}[cast(h1 % 6 as integer) + 1] as event,
      t as ts,
      t + to_microseconds(${receivedOffset}) as received_at,
      'u-' || cast(h2 % ${users} as varchar) as user_id,
      cast(null as varchar) as anonymous_id,
      's-' || cast(h2 % ${users} as varchar) || '-' || cast(cast(epoch(t) as bigint) // 1800 as varchar) as session_id,
      ['web', 'ios', 'android'][cast(h3 % 3 as integer) + 1] as source,
      cast(1 as bigint) as schema_version,
      'https://shop.example/p/p-' || cast(h3 % 5000 as varchar) as page_url,
      ['https://www.google.com/', 'https://shop.example/'][cast(h1 % 2 as integer) + 1] as referrer,
      case when h1 % 6 in (1, 3, 4, 5) then 'p-' || cast(h3 % 5000 as varchar) end as product_id,
      case when h1 % 6 in (1, 3, 4, 5) then cast(h3 % 10000 as double) / 100 end as price,
      case when h1 % 6 in (1, 3, 4, 5) then 'EUR' end as currency,
      case when h1 % 6 in (3, 4, 5) then cast(1 + h2 % 3 as bigint) end as quantity
    from base`;
  const redeliveries = `union all ${row('cast(5000000 + h3 % 55000000 as bigint)').replace('from base', `from base where i % ${dupEvery} = 0`)}`;
  return `with base as (${base})
    ${row('cast(h2 % 5000000 as bigint)')}
    ${dupEvery > 0 ? redeliveries : ''}`;
}
