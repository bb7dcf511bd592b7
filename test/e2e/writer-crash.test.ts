import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLake } from '@strata/dev/query';
import type { Stack } from '@strata/dev/stack';
import { eventsOverHours, postEvents, startTestStack, waitFor, writerBuffered } from './harness.js';

/**
 * The writer acks a push only once its rows are in GCS. Kill it (SIGKILL: no shutdown hook, no
 * flush) while rows sit in its buffers; Pub/Sub must redeliver them to the restarted writer.
 */
describe('writer killed with rows buffered', () => {
  let stack: Stack;
  let stop: () => Promise<void>;

  // The longest flush age the writer takes and no quiet flush, so nothing is written before the kill.
  beforeAll(async () => {
    ({ stack, stop } = await startTestStack({ flushMaxAgeMs: 60_000, writerEnv: { FLUSH_QUIET_MS: '0' } }));
  });
  afterAll(async () => stop?.());

  it('loses no event: unacknowledged pushes are redelivered and land', async () => {
    const ids = await postEvents(stack, eventsOverHours(150));
    // Kill only once the writer says it holds every row, so this test cannot pass without hitting buffered rows.
    await waitFor('every row buffered in the writer', async () => (await writerBuffered(stack)).items === ids.length, 30_000);
    expect(stack.counters.values().rowsWritten).toBe(0);

    const writer = stack.service('writer');
    writer.kill('SIGKILL');
    expect(await writer.exited).toBe('SIGKILL');

    await stack.restart('writer', { FLUSH_MAX_AGE_MS: '500', FLUSH_QUIET_MS: '250' });
    await waitFor('redelivered rows written', () => stack.counters.values().rowsWritten >= ids.length, 90_000);

    const { rows } = await queryLake('select event_id, count(*) from user_action group by event_id', stack.dataDir);
    const counts = new Map(rows.map(([id, n]) => [String(id), Number(n)]));
    for (const id of ids) expect(counts.get(id), `event ${id}`).toBe(1);
    expect(counts.size).toBe(ids.length);
  });
});
