import { describe, expect, it } from 'vitest';
import { columnsOf } from './columns.js';
import { createRegistry } from './registry.js';
import { loadBundledSchemas } from './bundled.js';

describe('columns', () => {
  it('maps user_action v1 to lake columns', () => {
    expect(createRegistry(loadBundledSchemas()).columns('user_action')).toEqual([
      { name: 'event_id', type: 'string', nullable: false },
      { name: 'event', type: 'string', nullable: false },
      { name: 'ts', type: 'timestamp', nullable: false },
      { name: 'received_at', type: 'timestamp', nullable: false },
      { name: 'user_id', type: 'string', nullable: false },
      { name: 'session_id', type: 'string', nullable: true },
      { name: 'properties', type: 'json', nullable: true },
    ]);
  });

  it('maps every JSON type', () => {
    const schema = {
      properties: {
        i: { type: 'integer' },
        n: { type: 'number' },
        b: { type: 'boolean' },
        a: { type: 'array' },
        s: { type: ['string', 'null'] },
        d: { type: 'string', format: 'date-time' },
      },
    };
    expect(columnsOf(schema).map((c) => c.type)).toEqual(['int64', 'double', 'bool', 'json', 'string', 'timestamp']);
  });

  it.each(['log_type', 'dt', 'hr'])('refuses the partition key %s as a field', (name) => {
    expect(() => columnsOf({ properties: { [name]: { type: 'string' } } })).toThrow(`field ${name} is a partition key`);
  });
});
