import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { reportLines, runCheck } from '../scripts/check.js';
import { envelopePath, loadBundledSchemas, loadEnvelope } from './bundled.js';
import { checkHistory, compareEnvelopes, compareVersions, formatProblem } from './compat.js';
import type { JsonSchema, LogTypeVersion } from './log-type.js';

const fixtures = fileURLToPath(new URL('../test-fixtures/compat/', import.meta.url));
const envelope = loadEnvelope();

function readVersion(path: string): LogTypeVersion {
  const schema = JSON.parse(readFileSync(path, 'utf8')) as JsonSchema;
  return { logType: String(schema['x-log-type']), version: Number(schema['x-version']), schema };
}

/** A fixture pair: `test-fixtures/compat/<name>/{v1,v2}.json`, both of log type compat_fixture. */
function pair(name: string): [LogTypeVersion, LogTypeVersion] {
  return [readVersion(join(fixtures, name, 'v1.json')), readVersion(join(fixtures, name, 'v2.json'))];
}

const rulesOf = (problems: { rule: string; field: string }[]) => problems.map(({ rule, field }) => ({ rule, field }));

describe('compareVersions: breaking changes', () => {
  const cases = [
    { name: 'field-removed', rule: 'field-removed', field: '/note' },
    { name: 'nested-field-removed', rule: 'field-removed', field: '/shipping/zip' },
    { name: 'type-changed', rule: 'type-changed', field: '/price', says: 'from number to string' },
    { name: 'format-removed', rule: 'type-changed', field: '/paid_at', says: 'from string (date-time) to string' },
    { name: 'column-changed', rule: 'type-changed', field: '/shipping', says: 'x-column struct to json' },
    { name: 'required-field-added', rule: 'required-added', field: '/store_id', says: 'new required field' },
    { name: 'optional-became-required', rule: 'required-added', field: '/price', says: 'became required' },
    { name: 'enum-value-removed', rule: 'enum-narrowed', field: '/event', says: '"order_refunded"' },
    { name: 'enum-added', rule: 'enum-narrowed', field: '/channel', says: 'where any value was allowed' },
    { name: 'max-length-lowered', rule: 'limit-tightened', field: '/order_id', says: 'maxLength from 64 to 32' },
    { name: 'limit-added', rule: 'limit-tightened', field: '/note', says: 'minLength 1 where there was no limit' },
    { name: 'item-limit-lowered', rule: 'limit-tightened', field: '/tags/*', says: 'maxLength from 32 to 16' },
    { name: 'pattern-changed', rule: 'pattern-changed', field: '/order_id', says: '"^[A-Z0-9]+$"' },
    { name: 'keep-to-reject', rule: 'unknown-policy-tightened', field: '', says: 'the event changed x-unknown-properties from keep to reject' },
    { name: 'pii-changed', rule: 'pii-changed', field: '/email', says: 'x-pii from hash to redact' },
  ];

  it.each(cases)('$name → $rule at "$field"', ({ name, rule, field, says }) => {
    const [v1, v2] = pair(name);
    const problems = compareVersions(envelope, v1, v2);
    expect(rulesOf(problems)).toEqual([{ rule, field }]);
    const [problem] = problems;
    expect(problem).toMatchObject({ logType: 'compat_fixture', from: 'v1', to: 'v2' });
    const message = problem?.message ?? '';
    expect(message).toContain('compat_fixture v1 → v2: ');
    expect(message).toContain(`(${rule})`);
    if (field !== '') expect(message).toContain(`${field} `);
    if (says !== undefined) expect(message).toContain(says);
    expect(message).toContain('needs a new log type');
  });

  it('words a problem as the issue describes, with the caller’s labels', () => {
    const [v1, v2] = pair('type-changed');
    const [problem] = compareVersions(envelope, v1, v2, { from: 'v1 (HEAD)', to: 'v1 (working tree)' });
    expect(problem?.message).toBe(
      'compat_fixture v1 (HEAD) → v1 (working tree): /price changed type from number to string (type-changed). ' +
        'Versions of a log type may only add optional fields, widen enums or relax limits; a breaking change needs a new log type.',
    );
    expect(formatProblem(problem!)).toBe(`✗ ${problem?.message}`);
  });

  it('reports a changed keyword it has no rule for rather than missing it', () => {
    const [v1, v2] = pair('optional-field-added');
    const price = { ...v2.schema.properties?.price, multipleOf: 0.01 };
    const next = { ...v2, schema: { ...v2.schema, properties: { ...v2.schema.properties, price } } };
    expect(rulesOf(compareVersions(envelope, v1, next))).toEqual([{ rule: 'keyword-changed', field: '/price' }]);
  });
});

describe('compareVersions: compatible changes', () => {
  it.each([
    'optional-field-added',
    'enum-widened',
    'limits-relaxed',
    'required-to-optional',
    'reject-to-keep',
    'nested-optional-field-added',
    'descriptions-changed',
  ])('%s passes', (name) => {
    const [v1, v2] = pair(name);
    expect(compareVersions(envelope, v1, v2)).toEqual([]);
  });

  it('an unchanged version is compatible with itself', () => {
    const [v1] = pair('field-removed');
    expect(compareVersions(envelope, v1, v1)).toEqual([]);
  });
});

describe('compareEnvelopes', () => {
  const [version] = pair('optional-field-added');

  it('judges an envelope edit by the same rules, per log type', () => {
    const { session_id: _removed, ...properties } = envelope.properties ?? {};
    const problems = compareEnvelopes(envelope, { ...envelope, properties }, version);
    expect(rulesOf(problems)).toEqual([{ rule: 'field-removed', field: '/session_id' }]);
    expect(problems[0]?.message).toContain('compat_fixture v1 (old envelope) → v1 (new envelope): /session_id was removed');
  });

  it('accepts a new optional envelope field, rejects a new required one', () => {
    const properties = { ...envelope.properties, tenant: { type: 'string', maxLength: 64 } };
    expect(compareEnvelopes(envelope, { ...envelope, properties }, version)).toEqual([]);
    const required = [...(envelope.required ?? []), 'tenant'];
    expect(rulesOf(compareEnvelopes(envelope, { ...envelope, properties, required }, version))).toEqual([{ rule: 'required-added', field: '/tenant' }]);
  });
});

describe('checkHistory', () => {
  it('passes a compatible chain and reports each version against its predecessor', () => {
    const [v1, v2] = pair('descriptions-changed');
    const [, broken] = pair('type-changed');
    expect(checkHistory(envelope, [v2, v1])).toEqual([]);
    const problems = checkHistory(envelope, [v1, v2, { ...broken, version: 3 }]);
    expect(problems.map(({ rule, field, from, to }) => ({ rule, field, from, to }))).toEqual([{ rule: 'type-changed', field: '/price', from: 'v2', to: 'v3' }]);
  });

  it('reports a gap in the version numbers', () => {
    const [v1, v2] = pair('optional-field-added');
    const problems = checkHistory(envelope, [v1, { ...v2, version: 3 }]);
    expect(problems.map(({ rule, from, to }) => ({ rule, from, to }))).toEqual([{ rule: 'version-gap', from: 'v1', to: 'v3' }]);
    expect(problems[0]?.message).toContain('v2..v2 missing');
    expect(rulesOf(checkHistory(envelope, [{ ...v2, version: 2 }]))).toEqual([{ rule: 'version-gap', field: '' }]);
  });

  it('reports a file that does not compose instead of throwing', () => {
    const [v1, v2] = pair('compose-fails');
    const problems = checkHistory(envelope, [v1, v2]);
    expect(problems.map(({ rule, logType, to }) => ({ rule, logType, to }))).toEqual([{ rule: 'compose-failed', logType: 'compat_fixture', to: 'v2' }]);
    expect(problems[0]?.message).toContain('"ts" is an envelope field');
    expect(rulesOf(compareVersions(envelope, v1, v2))).toEqual([{ rule: 'compose-failed', field: '' }]);
  });

  it('finds no problems in the bundled schemas', () => {
    expect(checkHistory(loadEnvelope(), loadBundledSchemas()).map(formatProblem)).toEqual([]);
  });
});

describe('runCheck (schemas:check)', () => {
  const temps: string[] = [];
  afterEach(() => {
    for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A throwaway repository (or plain folder) holding a schemas folder with compat_fixture v1. */
  function makeSchemas(options: { git: boolean }): { repo: string; root: string } {
    const repo = mkdtempSync(join(tmpdir(), 'strata-compat-'));
    temps.push(repo);
    const root = join(repo, 'schemas');
    mkdirSync(join(root, 'log-types', 'compat_fixture'), { recursive: true });
    cpSync(envelopePath, join(root, 'envelope.json'));
    cpSync(join(fixtures, 'optional-field-added', 'v1.json'), join(root, 'log-types', 'compat_fixture', 'v1.json'));
    if (options.git) git(repo, 'init', '--quiet');
    return { repo, root };
  }

  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd, stdio: 'pipe' });
  const commitAll = (repo: string) => {
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'schemas');
  };
  /** Writes a fixture file as version `version` of compat_fixture in the working tree. */
  const place = (root: string, fixture: string, version: number) => {
    const schema = JSON.parse(readFileSync(join(fixtures, fixture), 'utf8')) as JsonSchema;
    const path = join(root, 'log-types', 'compat_fixture', `v${version}.json`);
    writeFileSync(path, JSON.stringify({ ...schema, 'x-version': version }));
    return path;
  };

  it('reports a committed version changed breakingly in the working tree', () => {
    const { repo, root } = makeSchemas({ git: true });
    commitAll(repo);
    expect(reportLines(runCheck({ root }))).toEqual(['schemas:check: 1 log type, 1 version, no breaking changes']);

    place(root, 'type-changed/v2.json', 1);
    const report = runCheck({ root });
    expect(report.problems.map(({ rule, field, from, to }) => ({ rule, field, from, to }))).toEqual([
      { rule: 'type-changed', field: '/price', from: 'v1 (HEAD)', to: 'v1 (working tree)' },
    ]);
    expect(reportLines(report).at(-1)).toBe('schemas:check: 1 log type, 1 version, 1 problem');
  });

  it('accepts a compatible edit of a committed version and a new compatible version', () => {
    const { repo, root } = makeSchemas({ git: true });
    commitAll(repo);
    place(root, 'descriptions-changed/v2.json', 1);
    place(root, 'optional-field-added/v2.json', 2);
    expect(runCheck({ root }).problems).toEqual([]);
  });

  it('reports a committed version deleted from the working tree', () => {
    const { repo, root } = makeSchemas({ git: true });
    const v2 = place(root, 'optional-field-added/v2.json', 2);
    commitAll(repo);
    unlinkSync(v2);
    const report = runCheck({ root });
    expect(rulesOf(report.problems)).toEqual([{ rule: 'version-removed', field: '' }]);
    expect(report.problems[0]?.message).toContain('compat_fixture v2 (HEAD): log-types/compat_fixture/v2.json was deleted');
  });

  it('reports a breaking envelope edit against the committed envelope', () => {
    const { repo, root } = makeSchemas({ git: true });
    commitAll(repo);
    const { session_id: _removed, ...properties } = envelope.properties ?? {};
    writeFileSync(join(root, 'envelope.json'), JSON.stringify({ ...envelope, properties }));
    const report = runCheck({ root });
    expect(report.problems.map(({ rule, field, from }) => ({ rule, field, from }))).toEqual([
      { rule: 'field-removed', field: '/session_id', from: 'v1 (HEAD envelope)' },
    ]);
  });

  it('checks only the chain, saying so, without git history', () => {
    const { repo, root } = makeSchemas({ git: true });
    place(root, 'type-changed/v2.json', 2);
    expect(reportLines(runCheck({ root }))).toEqual([
      'schemas:check: no commit yet (HEAD does not exist); checked the version chain only',
      expect.stringMatching(/^✗ compat_fixture v1 → v2: \/price changed type .*\(type-changed\)/),
      'schemas:check: 1 log type, 2 versions, 1 problem',
    ]);
    rmSync(join(repo, '.git'), { recursive: true });
    // Stop git's upward search at the temp folder, in case the temp folder sits inside some repository.
    const ceiling = process.env.GIT_CEILING_DIRECTORIES;
    process.env.GIT_CEILING_DIRECTORIES = tmpdir();
    const outside = runCheck({ root });
    if (ceiling === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
    else process.env.GIT_CEILING_DIRECTORIES = ceiling;
    expect(outside.notes).toEqual(['schemas:check: not inside a git work tree (or git is not installed); checked the version chain only']);
    expect(rulesOf(outside.problems)).toEqual([{ rule: 'type-changed', field: '/price' }]);
  });

  it('reports unreadable schema files as a problem', () => {
    const { root } = makeSchemas({ git: false });
    writeFileSync(join(root, 'log-types', 'compat_fixture', 'v2.json'), '{ not json');
    expect(rulesOf(runCheck({ root }).problems)).toEqual([{ rule: 'load-failed', field: '' }]);
  });
});
