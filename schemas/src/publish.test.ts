import { describe, expect, it } from 'vitest';
import { loadEnvelope } from './bundled.js';
import { describePublished, planPublish } from './publish.js';
import { signupV1, signupV2, signupV3Breaking } from './registry-fixtures.js';
import type { PublishedVersion } from './registry-table.js';

const envelope = loadEnvelope();
const row = (v: typeof signupV1, active = true): PublishedVersion => ({ ...v, active });

describe('planPublish', () => {
  it('inserts what is new and counts what is already published', () => {
    const plan = planPublish([row(signupV1)], [signupV1, signupV2], envelope);
    expect(plan).toEqual({ ok: true, toInsert: [signupV2], alreadyPresent: 1 });
    expect(describePublished({ ok: true, published: [signupV2], alreadyPresent: 5 })).toBe('published test_signup v2; 5 already present');
    expect(describePublished({ ok: true, published: [], alreadyPresent: 2 })).toBe('nothing new to publish; 2 already present');
  });

  it('refuses a version that breaks the published history, naming the problem', () => {
    const plan = planPublish([row(signupV1), row(signupV2)], [signupV3Breaking], envelope);
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.problems).toEqual([expect.stringMatching(/^✗ test_signup v2 → v3: \/plan changed type from string to integer \(type-changed\)/)]);
  });

  it('refuses a file that differs from the published version of the same number, even a compatible change', () => {
    const edited = { ...signupV2, schema: { ...signupV2.schema, description: 'now with a description' } };
    const plan = planPublish([row(signupV1), row(signupV2, false)], [edited], envelope);
    expect(plan).toEqual({
      ok: false,
      problems: ['✗ test_signup v2 differs from the version already published: published versions are immutable, publish the change as v3'],
    });
  });

  it('refuses gaps and a version given twice', () => {
    const gap = planPublish([], [signupV2], envelope);
    expect(gap.ok || gap.problems).toEqual([expect.stringContaining('(version-gap)')]);
    const twice = planPublish([], [signupV1, signupV1], envelope);
    expect(twice.ok || twice.problems).toContain('✗ test_signup v1 is given twice');
  });
});
