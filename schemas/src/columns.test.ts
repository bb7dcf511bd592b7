import { describe, expect, it } from 'vitest';
import { bigQuerySchema, type BigQueryField } from './bigquery.js';
import { loadBundledSchemas } from './bundled.js';
import { columnsOf, unionColumns, type Column } from './columns.js';
import { createRegistry } from './registry.js';

const registry = createRegistry(loadBundledSchemas());

/** name:type, `?` when nullable, enum values in brackets, struct fields in braces, list item after []. */
const show = (c: Column): string =>
  `${c.name}:${c.type}${c.nullable ? '?' : ''}` +
  (c.values ? `[${c.values.join('|')}]` : '') +
  (c.fields ? `{${c.fields.map(show).join(' ')}}` : '') +
  (c.item ? `[]${show(c.item)}` : '');

const ENVELOPE = [
  'event_id:string',
  'ts:timestamp',
  'received_at:timestamp',
  'user_id:string?',
  'anonymous_id:string?',
  'session_id:string?',
  'source:string?',
  'schema_version:int64',
  'context:struct?{user_agent:string? ip:string? locale:string? page:struct?{url:string? referrer:string? title:string?}}',
];
const withEnvelope = (events: string, own: string[]) => [ENVELOPE[0], `event:enum[${events}]`, ...ENVELOPE.slice(1), ...own];

describe('Arrow/Parquet columns generated from the schemas', () => {
  it.each([
    [
      'user_action',
      withEnvelope('page_view|product_view|search|add_to_cart|remove_from_cart|checkout_started|add_to_wishlist', [
        'page_url:string?', 'referrer:string?', 'product_id:string?', 'cart_id:string?', 'price:double?', 'currency:string?',
        'quantity:int64?', 'search_query:string?', 'list_id:string?', 'position:int64?', 'extra:json?',
      ]),
    ],
    [
      'seller_action',
      withEnvelope('package_status_updated|listing_created|listing_updated|price_changed', [
        'seller_id:string', 'package_id:string?',
        'from_status:enum?[created|packed|handed_over|in_transit|delivered|returned|lost]',
        'to_status:enum?[created|packed|handed_over|in_transit|delivered|returned|lost]',
        'listing_id:string?', 'old_price:double?', 'new_price:double?', 'currency:string?', 'changed_fields:list?[]element:string?',
      ]),
    ],
    [
      'order_event',
      withEnvelope('order_created|order_confirmed|order_paid|order_shipped|order_delivered|order_cancelled', [
        'order_id:string', 'amount:double?', 'currency:string?', 'item_count:int64?',
        'payment_method:enum?[card|paypal|bank_transfer|invoice|voucher]', 'cancel_reason:string?', 'customer_email:string?',
        // shipping_address is x-pii drop: accepted, never stored, so no column.
      ]),
    ],
    [
      'impression',
      withEnvelope('impression|click', [
        'publisher_id:string', 'page_url:string?', 'link_url:string', 'placement:enum[inline|widget]',
        'visible_ratio:double?', 'visible_ms:int64?', 'extra:json?',
      ]),
    ],
  ])('%s', (logType, expected) => {
    expect(registry.columns(logType).map(show)).toEqual(expected);
  });

  it('unions versions: new columns are nullable, enums are merged, extra stays last', () => {
    const v1: Column[] = [{ name: 'a', type: 'enum', nullable: false, values: ['x'] }, { name: 'extra', type: 'json', nullable: true }];
    const v2: Column[] = [{ name: 'a', type: 'enum', nullable: false, values: ['x', 'y'] }, { name: 'extra', type: 'json', nullable: true }, { name: 'b', type: 'int64', nullable: false }];
    expect(unionColumns([v1, v2]).map(show)).toEqual(['a:enum[x|y]', 'b:int64?', 'extra:json?']);
    expect(() => unionColumns([[{ name: 'a', type: 'string', nullable: true }], [{ name: 'a', type: 'int64', nullable: true }]])).toThrow(
      'column a is string in one version and int64 in another',
    );
  });

  it('maps every JSON type, and nested values to JSON unless a struct or list is asked for', () => {
    const schema = {
      'x-log-type': 't',
      properties: {
        i: { type: 'integer' }, n: { type: 'number' }, b: { type: 'boolean' }, s: { type: ['string', 'null'] },
        d: { type: 'string', format: 'date-time' }, o: { type: 'object' }, a: { type: 'array', items: { type: 'integer' } },
        l: { type: 'array', 'x-column': 'list' as const, items: { type: 'integer' } },
      },
    };
    expect(columnsOf(schema).map(show)).toEqual(['i:int64?', 'n:double?', 'b:bool?', 's:string?', 'd:timestamp?', 'o:json?', 'a:json?', 'l:list?[]element:int64?']);
  });

  it.each(['log_type', 'dt', 'hr', 'extra'])('refuses %s as a field name', (name) => {
    expect(() => columnsOf({ 'x-log-type': 't', properties: { [name]: { type: 'string' } } })).toThrow(`field ${name} is a partition key or reserved column`);
  });

  it('refuses column names BigQuery would not accept or would confuse', () => {
    expect(() => columnsOf({ 'x-log-type': 't', properties: { 'page-url': { type: 'string' } } })).toThrow('"page-url" is not a valid BigQuery column name');
    expect(() => columnsOf({ 'x-log-type': 't', properties: { Price: { type: 'number' }, price: { type: 'number' } } })).toThrow('two columns named price');
  });
});

describe('BigQuery schema generated from the schemas', () => {
  const brief = (f: BigQueryField): string => `${f.name} ${f.type} ${f.mode}${f.fields ? ` {${f.fields.map(brief).join(', ')}}` : ''}`;

  it('gives each log type the union of its versions, partition keys left to hive partitioning', () => {
    expect(bigQuerySchema(registry.columns('user_action')).map(brief)).toEqual([
      'event_id STRING REQUIRED', 'event STRING REQUIRED', 'ts TIMESTAMP REQUIRED', 'received_at TIMESTAMP REQUIRED',
      'user_id STRING NULLABLE', 'anonymous_id STRING NULLABLE', 'session_id STRING NULLABLE', 'source STRING NULLABLE',
      'schema_version INT64 REQUIRED',
      'context RECORD NULLABLE {user_agent STRING NULLABLE, ip STRING NULLABLE, locale STRING NULLABLE, page RECORD NULLABLE {url STRING NULLABLE, referrer STRING NULLABLE, title STRING NULLABLE}}',
      'page_url STRING NULLABLE', 'referrer STRING NULLABLE', 'product_id STRING NULLABLE', 'cart_id STRING NULLABLE',
      'price FLOAT64 NULLABLE', 'currency STRING NULLABLE', 'quantity INT64 NULLABLE', 'search_query STRING NULLABLE',
      'list_id STRING NULLABLE', 'position INT64 NULLABLE', 'extra STRING NULLABLE',
    ]);
  });

  const ENVELOPE_BQ = [
    'event_id STRING REQUIRED', 'event STRING REQUIRED', 'ts TIMESTAMP REQUIRED', 'received_at TIMESTAMP REQUIRED',
    'user_id STRING NULLABLE', 'anonymous_id STRING NULLABLE', 'session_id STRING NULLABLE', 'source STRING NULLABLE',
    'schema_version INT64 REQUIRED',
    'context RECORD NULLABLE {user_agent STRING NULLABLE, ip STRING NULLABLE, locale STRING NULLABLE, page RECORD NULLABLE {url STRING NULLABLE, referrer STRING NULLABLE, title STRING NULLABLE}}',
  ];

  it.each([
    ['seller_action', [
      'seller_id STRING REQUIRED', 'package_id STRING NULLABLE', 'from_status STRING NULLABLE', 'to_status STRING NULLABLE',
      'listing_id STRING NULLABLE', 'old_price FLOAT64 NULLABLE', 'new_price FLOAT64 NULLABLE', 'currency STRING NULLABLE',
      'changed_fields STRING REPEATED',
    ]],
    ['order_event', [
      'order_id STRING REQUIRED', 'amount FLOAT64 NULLABLE', 'currency STRING NULLABLE', 'item_count INT64 NULLABLE',
      'payment_method STRING NULLABLE', 'cancel_reason STRING NULLABLE', 'customer_email STRING NULLABLE',
    ]],
    ['impression', [
      'publisher_id STRING REQUIRED', 'page_url STRING NULLABLE', 'link_url STRING REQUIRED', 'placement STRING REQUIRED',
      'visible_ratio FLOAT64 NULLABLE', 'visible_ms INT64 NULLABLE', 'extra STRING NULLABLE',
    ]],
  ])('gives %s the envelope and its own fields', (logType, own) => {
    expect(bigQuerySchema(registry.columns(logType)).map(brief)).toEqual([...ENVELOPE_BQ, ...own]);
  });

  it('maps lists to REPEATED, enums to STRING and keeps descriptions', () => {
    const fields = bigQuerySchema(registry.columns('seller_action'));
    expect(fields.find((f) => f.name === 'changed_fields')).toEqual({
      name: 'changed_fields', type: 'STRING', mode: 'REPEATED', description: 'Listing fields an update touched.',
    });
    expect(fields.find((f) => f.name === 'to_status')).toMatchObject({ type: 'STRING', mode: 'NULLABLE', description: 'Package status after the update.' });
    const impression = bigQuerySchema(registry.columns('impression'));
    expect(impression.filter((f) => f.mode === 'REQUIRED').map((f) => f.name)).toEqual([
      'event_id', 'event', 'ts', 'received_at', 'schema_version', 'publisher_id', 'link_url', 'placement',
    ]);
    expect(impression.map((f) => f.name)).not.toContain('dt');
  });
});
