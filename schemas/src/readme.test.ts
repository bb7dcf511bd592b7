import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBundledSchemas } from './bundled.js';
import { createRegistry } from './registry.js';

// The README's examples are documentation users copy: they must stay valid.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
const registry = createRegistry(loadBundledSchemas());

describe('schemas/README.md examples', () => {
  it('has one example per log type', () => {
    expect(examples.map((e) => e.log_type).sort()).toEqual(registry.logTypes());
  });

  it.each(examples.map((e) => [e.log_type, e] as const))('%s example is valid once Strata fills its fields', (logType, example) => {
    const { log_type: _t, ...event } = example;
    const version = registry.latestVersion(String(logType));
    const filled = { ...event, event_id: '01JD0000000000000000000000', received_at: '2026-11-21T12:00:00Z', schema_version: version };
    expect(registry.validate(String(logType), version, filled)).toMatchObject({ ok: true });
  });

  it('the batch message example holds valid user_action events, as the writer fills them', () => {
    const batch = /```sh\nprintf[\s\S]*?```/.exec(readme)?.[0] ?? '';
    const lines = [...batch.matchAll(/'(\{.*?\})'/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    const version = registry.latestVersion('user_action');
    for (const event of lines) {
      expect(registry.validate('user_action', version, { ...event, received_at: '2026-11-21T12:00:00Z', schema_version: version })).toMatchObject({ ok: true });
    }
  });
});
