import { describe, expect, it } from 'vitest';
import { loadBundledSchemas } from './bundled.js';
import { createRegistry } from './registry.js';
import { ROLLUPS, checkRollups, measureType, rollupApplies, rollupKeys, type RollupDeclaration } from './rollups.js';

const registry = createRegistry(loadBundledSchemas());

/** A valid declaration over order_event to break one field at a time. */
const base: RollupDeclaration = {
  name: 'daily_orders_test',
  description: 'Orders per currency and day.',
  logTypes: ['order_event'],
  grain: 'day',
  dimensions: [{ name: 'currency', column: 'currency' }],
  where: { event: 'order_created' },
  measures: [
    { name: 'orders', kind: 'distinct', column: 'order_id', description: 'Distinct orders.' },
    { name: 'revenue', kind: 'sum', column: 'amount', description: 'Sum of amount.' },
  ],
};

const problemsOf = (changes: Partial<RollupDeclaration>) => checkRollups([{ ...base, ...changes }], registry);

describe('checkRollups', () => {
  it('accepts the declared rollups against the bundled log types', () => {
    expect(checkRollups(ROLLUPS, registry)).toEqual([]);
    expect(checkRollups([base], registry)).toEqual([]);
  });

  // Each mistake is reported as a message naming the rollup and the field at fault.
  it.each<{ mistake: string; changes: Partial<RollupDeclaration>; says: string[] }>([
    {
      mistake: 'a dimension on a column the log type does not have',
      changes: { dimensions: [{ name: 'country', column: 'country' }] },
      says: ['dimension country', '"country"', 'order_event does not have'],
    },
    {
      mistake: 'a measure on a column the log type does not have',
      changes: { measures: [{ name: 'items', kind: 'sum', column: 'items', description: '' }] },
      says: ['measure items', '"items"', 'order_event does not have'],
    },
    {
      mistake: 'a sum over a text column',
      changes: { measures: [{ name: 'revenue', kind: 'sum', column: 'currency', description: '' }] },
      says: ['measure revenue', '"currency", a string column of order_event', 'int64 or double'],
    },
    {
      mistake: 'a dimension over a number column',
      changes: { dimensions: [{ name: 'amount_band', column: 'amount' }] },
      says: ['dimension amount_band', '"amount", a double column', 'string or enum'],
    },
    {
      mistake: 'a where on a column that is not text',
      changes: { where: { item_count: '2' } },
      says: ['its where', '"item_count", a int64 column'],
    },
    {
      mistake: "a measure's where on a column the log type does not have",
      changes: { measures: [{ name: 'paid', kind: 'count', where: { status: 'paid' }, description: '' }] },
      says: ["measure paid's where", '"status"'],
    },
    { mistake: 'a bad rollup name', changes: { name: 'Daily-Orders' }, says: ['rollup Daily-Orders', 'the name must match'] },
    {
      mistake: 'a bad column name',
      changes: { measures: [{ name: 'Orders Created', kind: 'count', description: '' }] },
      says: ['column name "Orders Created" must match'],
    },
    {
      mistake: 'a reserved SQL word as a column name',
      changes: { dimensions: [{ name: 'user', column: 'user_id' }] },
      says: ['column name "user" is an SQL reserved word'],
    },
    {
      mistake: 'a measure named like a dimension',
      changes: { measures: [{ name: 'currency', kind: 'count', description: '' }] },
      says: ['column "currency" is declared twice'],
    },
    {
      mistake: 'a dimension named like a grain key',
      changes: { dimensions: [{ name: 'dt', column: 'currency' }] },
      says: ['dimension "dt" is a name the grain uses'],
    },
    {
      mistake: 'a measure named like a grain key',
      changes: { measures: [{ name: 'updated_at', kind: 'count', description: '' }] },
      says: ['measure "updated_at" is a name the grain uses'],
    },
    { mistake: 'no measures', changes: { measures: [] }, says: ['declares no measures'] },
    {
      mistake: 'a ratio referring to nothing',
      changes: { measures: [...base.measures, { name: 'per_order', kind: 'ratio', numerator: 'revenue', denominator: 'nothing', description: '' }] },
      says: ['ratio per_order refers to "nothing", which is not one of its measures'],
    },
    {
      mistake: 'a ratio referring to a ratio',
      changes: {
        measures: [
          ...base.measures,
          { name: 'per_order', kind: 'ratio', numerator: 'revenue', denominator: 'orders', description: '' },
          { name: 'twice', kind: 'ratio', numerator: 'per_order', denominator: 'orders', description: '' },
        ],
      },
      says: ['ratio twice refers to another ratio (per_order)'],
    },
    { mistake: 'an unknown log type', changes: { logTypes: ['order_events'] }, says: ['unknown log type "order_events"'] },
    { mistake: 'an empty list of log types', changes: { logTypes: [] }, says: ['reads no log types'] },
    { mistake: 'a match value with a quote', changes: { where: { event: "order_created' or '1'='1" } }, says: ['match value "order_created\' or', 'must match'] },
    {
      mistake: "a measure's match value with a quote",
      changes: { measures: [{ name: 'paid', kind: 'count', where: { event: ["order_paid", "it's"] }, description: '' }] },
      says: ['match value "it\'s"'],
    },
    { mistake: 'a match listing no values', changes: { where: { event: [] } }, says: ['the match on "event" lists no values'] },
  ])('reports $mistake', ({ changes, says }) => {
    const problems = problemsOf(changes);
    const name = changes.name ?? base.name;
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(new RegExp(`^rollup ${name}: `));
    for (const text of says) expect(problems.join('\n')).toContain(text);
  });

  it('reports a lake column named with an SQL reserved word, which the generated SQL cannot name unquoted', () => {
    const lake = { logTypes: () => ['shipment'], columns: () => [{ name: 'from', type: 'string' as const, nullable: true }] };
    const declaration: RollupDeclaration = { ...base, logTypes: ['shipment'], where: undefined, dimensions: [{ name: 'origin', column: 'from' }], measures: [{ name: 'n', kind: 'count', description: '' }] };
    expect(checkRollups([declaration], lake)).toEqual(['rollup daily_orders_test: dimension origin reads "from", an SQL reserved word the generated SQL cannot name unquoted']);
  });

  it('reports a rollup declared twice', () => {
    expect(checkRollups([base, base], registry)).toEqual(['rollup daily_orders_test: declared twice']);
  });

  it("checks a '*' rollup against every log type", () => {
    // order_event has amount, the others do not: one problem per log type that lacks it.
    const problems = problemsOf({ logTypes: '*', dimensions: [], where: undefined, measures: [{ name: 'revenue', kind: 'sum', column: 'amount', description: '' }] });
    expect(problems.sort()).toEqual(
      ['impression', 'segment_identify', 'segment_page', 'segment_track', 'seller_action', 'user_action'].map((t) => `rollup daily_orders_test: measure revenue reads "amount", which ${t} does not have`),
    );
  });
});

describe('rollupKeys', () => {
  it('puts log_type first for every-log-type rollups, then dt, hr for hourly ones, then the dimensions', () => {
    const byName = new Map(ROLLUPS.map((r) => [r.name, r]));
    expect(rollupKeys(byName.get('hourly_event_counts')!)).toEqual(['log_type', 'dt', 'hr', 'event']);
    expect(rollupKeys(byName.get('daily_active_users')!)).toEqual(['log_type', 'dt']);
    expect(rollupKeys(byName.get('daily_impression_stats')!)).toEqual(['dt', 'publisher_id', 'placement']);
  });
});

describe('rollupApplies', () => {
  it("applies '*' to every log type and a list only to its members", () => {
    expect(rollupApplies({ ...base, logTypes: '*' }, 'user_action')).toBe(true);
    expect(rollupApplies(base, 'order_event')).toBe(true);
    expect(rollupApplies(base, 'user_action')).toBe(false);
  });
});

describe('measureType', () => {
  it('types counts as integers and everything else as doubles', () => {
    expect(measureType({ name: 'a', kind: 'count', description: '' })).toBe('bigint');
    expect(measureType({ name: 'a', kind: 'distinct', column: 'x', description: '' })).toBe('bigint');
    expect(measureType({ name: 'a', kind: 'sum', column: 'x', description: '' })).toBe('double');
    expect(measureType({ name: 'a', kind: 'avg', column: 'x', description: '' })).toBe('double');
    expect(measureType({ name: 'a', kind: 'ratio', numerator: 'x', denominator: 'y', description: '' })).toBe('double');
  });
});
