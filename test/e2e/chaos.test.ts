import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { clearGcsFaults, getGcsFaults, setGcsFaults } from '@strata/dev/gcs-emulator';
import { queryLake } from '@strata/dev/query';
import type { Stack } from '@strata/dev/stack';
import type { TestDatabase } from '@strata/dev/postgres';
import { startTestStack, waitFor } from './harness.js';
import { startSteadyLoad, type SteadyLoad } from './steady-load.js';

/**
 * Chaos, bounded (about two minutes): under a steady load of producers that retry as the README
 * says, the pipeline goes through a writer kill, GCS 5xx and timeouts, cut push connections, a
 * Pub/Sub restart, PostgreSQL stopping during a curator run, and SIGTERM to every service. Then
 * every accepted event_id is reconciled against the lake: none lost, none duplicated after dedup,
 * nothing in the lake that was never sent; and the rollups agree with the deduplicated lake.
 */
const WRITER_SIGTERM_BUDGET_MS = 8_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos under steady load', () => {
  let stack: Stack;
  let database: TestDatabase;
  let stop: () => Promise<void>;
  let load: SteadyLoad | undefined;
  const faults: Record<string, number> = {};
  const timeline: string[] = [];
  const started = Date.now();
  const mark = (what: string) => timeline.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${what}`);

  beforeAll(async () => {
    ({ stack, database, stop } = await startTestStack({ flushMaxAgeMs: 1_000 }));
  });
  afterAll(async () => {
    await load?.stop().catch(() => undefined);
    await clearGcsFaults(stack.urls.gcs).catch(() => undefined);
    await database.outage?.startUp().catch(() => undefined);
    await stop?.();
    console.log(`chaos timeline:\n${timeline.join('\n')}`);
  });

  it('loses nothing and duplicates nothing after dedup, through every fault', { timeout: 300_000 }, async () => {
    expect(database.outage, 'the chaos test needs a throwaway PostgreSQL cluster it can stop (PostgreSQL binaries)').toBeDefined();
    load = startSteadyLoad({ ingestUrl: stack.urls.ingest });
    const acceptedNow = () => load!.accepted.size;
    await waitFor('load flowing', () => acceptedNow() >= 1_000, 30_000);
    mark(`load flowing (${acceptedNow()} accepted)`);

    // 1. The writer dies with rows in its buffers: nothing was acked, Pub/Sub pushes them again.
    const writer = stack.service('writer');
    writer.kill('SIGKILL');
    await writer.exited;
    mark('writer killed (SIGKILL)');
    faults.writerKilled = 1;
    await sleep(1_000);
    await stack.restart('writer');
    mark('writer restarted');

    // 2. GCS answers 503 to half of the requests, then answers none at all for a while (every
    //    request held until the client times out or the fault is cleared).
    await setGcsFaults(stack.urls.gcs, { errorRate: 0.5 });
    mark('GCS faults on: 50 % of requests answered 503');
    await sleep(5_000);
    await setGcsFaults(stack.urls.gcs, { errorRate: 0, timeoutRate: 1 });
    mark('GCS faults: every request held unanswered');
    await sleep(3_000);
    const gcs = await clearGcsFaults(stack.urls.gcs);
    faults.gcs503 = gcs.injected.error;
    faults.gcsTimeouts = gcs.injected.timeout;
    mark(`GCS faults off (${gcs.injected.error} × 503, ${gcs.injected.timeout} timeouts injected)`);

    // 3. Push connections cut mid-request, then Pub/Sub itself restarts from its journal.
    stack.pubsubFaults().set({ pushDropRate: 0.2, pushDropWithinMs: 1_500 });
    mark('push faults on: 20 % of push connections cut');
    await sleep(4_000);
    faults.pushDropped = stack.pubsubFaults().injected().pushDropped;
    await stack.restartPubsub(1_000);
    faults.pubsubRestarts = 1;
    mark(`Pub/Sub restarted after 1 s down (${faults.pushDropped} pushes cut before)`);

    // 4. PostgreSQL stops during a curator run. Slow GCS reads keep the run going while it happens.
    await setGcsFaults(stack.urls.gcs, { latencyMs: 300, methods: ['GET'] });
    const outageRun = stack.runCurator().then(
      (body) => ({ ok: true as const, body }),
      (err: Error) => ({ ok: false as const, reason: err.message }),
    );
    await sleep(700);
    await database.outage!.shutDown();
    mark('PostgreSQL stopped during a curator run');
    const duringOutage = await outageRun;
    mark(`curator run during the outage: ${duringOutage.ok ? 'finished' : 'failed, as it must'}`);
    expect(duringOutage.ok, 'the run must fail (non-2xx) while PostgreSQL is away, so Scheduler retries').toBe(false);
    await clearGcsFaults(stack.urls.gcs);
    await database.outage!.startUp();
    faults.postgresOutages = 1;
    mark('PostgreSQL started again');
    expect((await fetch(`${stack.urls.curator}/healthz`)).status, 'the curator survives the outage').toBe(200);

    // 5. SIGTERM to every service under load, as Cloud Run does on scale-in and deploys.
    for (const name of ['ingest', 'curator'] as const) {
      const service = stack.service(name);
      service.kill('SIGTERM');
      await service.exited;
      await stack.restart(name);
      mark(`${name}: SIGTERM, exited, restarted`);
    }
    const busyWriter = stack.service('writer');
    const sigtermAt = Date.now();
    busyWriter.kill('SIGTERM');
    await busyWriter.exited;
    const writerStopMs = Date.now() - sigtermAt;
    mark(`writer: SIGTERM → flushed and exited in ${writerStopMs} ms`);
    expect(writerStopMs, "the writer's SIGTERM flush must fit Cloud Run's 10 s grace").toBeLessThan(WRITER_SIGTERM_BUDGET_MS);
    await stack.restart('writer');
    faults.sigterms = 3;

    await sleep(2_000);
    await load.stop();
    const accepted = load.accepted;
    mark(`load stopped: ${accepted.size} accepted, ${load.retries()} retried batches (${[...load.failures()].map(([why, n]) => `${why} × ${n}`).join(', ')})`);

    // Reconcile: everything accepted is in the lake once the push subscription is empty.
    const drained = await stack.drain({ timeoutMs: 120_000 });
    mark(`drained: ${drained.outcome} in ${drained.ms} ms`);
    expect(drained.outcome).toBe('drained');
    const { rows } = await queryLake('select event_id, count(*) from user_action group by event_id', stack.dataDir);
    const inLake = new Map(rows.map(([id, n]) => [String(id), Number(n)]));
    const lost = [...accepted].filter((id) => !inLake.has(id));
    const neverSent = [...inLake.keys()].filter((id) => !accepted.has(id));
    const rawDuplicates = [...inLake.values()].reduce((sum, n) => sum + n - 1, 0);
    const deduped = await queryLake('select count(*), count(distinct event_id) from user_action_deduped', stack.dataDir);
    const [dedupedRows, dedupedIds] = deduped.rows[0]!.map(Number);
    mark(`reconciled: ${accepted.size} accepted, ${lost.length} lost, ${rawDuplicates} raw duplicates, ${dedupedRows! - dedupedIds!} after dedup`);
    console.log(`chaos faults injected: ${JSON.stringify(faults)}`);
    expect(lost.length, `lost, e.g. ${lost.slice(0, 3).join(', ')}`).toBe(0);
    expect(neverSent.length).toBe(0);
    expect(dedupedRows).toBe(accepted.size);
    expect(dedupedIds).toBe(accepted.size);

    // The rollups, computed after all of it, count each accepted event exactly once.
    await stack.runCurator();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows: sums } = await client.query<{ events: string }>("select coalesce(sum(events), 0) as events from daily_event_counts where log_type = 'user_action'");
      mark(`rollups: daily_event_counts sums to ${sums[0]!.events}`);
      expect(Number(sums[0]!.events)).toBe(accepted.size);
    } finally {
      await client.end();
    }
    // Each fault really happened (a fault that never fired would make this test pass for nothing).
    const gcsTotals = await getGcsFaults(stack.urls.gcs);
    expect(gcsTotals.injected.error).toBeGreaterThan(0);
    expect(gcsTotals.injected.timeout).toBeGreaterThan(0);
    expect(gcsTotals.injected.latency).toBeGreaterThan(0);
    expect(faults.pushDropped).toBeGreaterThan(0);
    expect(rawDuplicates, 'redeliveries after the faults put some events in the lake twice, and dedup removed them').toBeGreaterThan(0);
  });
});
