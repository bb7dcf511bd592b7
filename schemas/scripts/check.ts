/**
 * `npm run schemas:check`: the schema evolution rules (src/compat.ts) applied to the files in the
 * working tree — the version chain of every log type, and, inside a git work tree, every version
 * and the envelope as committed at HEAD against their working copies (a committed version is
 * published: it may be relaxed in place, never broken or deleted). Exits 1 on any problem.
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundledSchemas, loadEnvelope } from '../src/bundled.js';
import { checkHistory, compareEnvelopes, compareVersions, formatProblem, type CompatProblem } from '../src/compat.js';
import type { JsonSchema, LogTypeVersion } from '../src/log-type.js';

export interface CheckOptions {
  /** The schemas folder (holding envelope.json and log-types/); defaults to this package's. */
  root?: string;
}

export interface CheckReport {
  logTypes: number;
  versions: number;
  problems: CompatProblem[];
  /** What was skipped and why (no git, no HEAD, a committed file in an older format). */
  notes: string[];
}

interface Committed {
  envelope: JsonSchema | undefined;
  versions: LogTypeVersion[];
  notes: string[];
}

const defaultRoot = fileURLToPath(new URL('..', import.meta.url));
const VERSION_FILE = /^log-types\/([^/]+)\/v(\d+)\.json$/;

/** Runs git in `root`; undefined when git is missing or the command fails (e.g. a path not in HEAD). */
function git(root: string, args: string[]): string | undefined {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return result.status === 0 ? result.stdout : undefined;
}

function parse(text: string | undefined): JsonSchema | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as JsonSchema;
  } catch {
    return undefined;
  }
}

/** The envelope and version files as of HEAD, or a one-line reason there is no history to compare. */
function readHead(root: string): Committed | string {
  if (git(root, ['rev-parse', '--is-inside-work-tree'])?.trim() !== 'true') {
    return 'schemas:check: not inside a git work tree (or git is not installed); checked the version chain only';
  }
  if (git(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']) === undefined) {
    return 'schemas:check: no commit yet (HEAD does not exist); checked the version chain only';
  }
  const notes: string[] = [];
  const versions: LogTypeVersion[] = [];
  // Paths given to ls-tree and `HEAD:./…` are relative to root, wherever it sits in the repository.
  const names = (git(root, ['ls-tree', '-r', 'HEAD', '--name-only', '--', 'log-types']) ?? '').split('\n');
  for (const name of names) {
    const match = VERSION_FILE.exec(name);
    if (!match) continue;
    const schema = parse(git(root, ['show', `HEAD:./${name}`]));
    if (schema === undefined) notes.push(`schemas:check: ${name} at HEAD is not valid JSON; not compared`);
    else versions.push({ logType: match[1] ?? '', version: Number(match[2]), schema });
  }
  const envelope = parse(git(root, ['show', 'HEAD:./envelope.json']));
  if (envelope === undefined) notes.push('schemas:check: envelope.json is not in HEAD; envelope changes not compared');
  return { envelope, versions, notes };
}

/**
 * A committed side that does not compose predates the current file format (or was broken when
 * committed): there is no baseline to judge, so it is a note. The working side is judged by the chain.
 */
function splitHeadFailures(problems: CompatProblem[], headLabel: string, notes: string[]): CompatProblem[] {
  return problems.filter((p) => {
    const unreadableBaseline = p.rule === 'compose-failed' && p.from === headLabel && p.to === headLabel;
    if (unreadableBaseline) notes.push(`schemas:check: not compared, no readable baseline: ${p.message}`);
    return !unreadableBaseline;
  });
}

function latestOfEach(versions: LogTypeVersion[]): LogTypeVersion[] {
  const latest = new Map<string, LogTypeVersion>();
  for (const v of versions) {
    const seen = latest.get(v.logType);
    if (seen === undefined || v.version > seen.version) latest.set(v.logType, v);
  }
  return [...latest.values()];
}

/** Committed versions must survive in the working tree and only change compatibly; so must the envelope. */
function compareWithHead(head: Committed, envelope: JsonSchema, working: LogTypeVersion[], notes: string[]): CompatProblem[] {
  const problems: CompatProblem[] = [];
  // Type files are compared under one envelope so that a file's own change is judged alone.
  const envelopeAtHead = head.envelope ?? envelope;
  for (const committed of head.versions) {
    const { logType, version } = committed;
    const from = `v${version} (HEAD)`;
    const current = working.find((v) => v.logType === logType && v.version === version);
    if (current === undefined) {
      const message = `${logType} ${from}: log-types/${logType}/v${version}.json was deleted from the working tree (version-removed). Published versions stay: events already carry them; a breaking change needs a new log type.`;
      problems.push({ logType, from, to: 'working tree', field: '', rule: 'version-removed', message });
      continue;
    }
    const found = compareVersions(envelopeAtHead, committed, current, { from, to: `v${version} (working tree)` });
    problems.push(...splitHeadFailures(found, from, notes));
  }
  if (head.envelope === undefined) return problems;
  for (const latest of latestOfEach(working)) {
    const from = `v${latest.version} (HEAD envelope)`;
    const found = compareEnvelopes(head.envelope, envelope, latest, { from, to: `v${latest.version} (working envelope)` });
    problems.push(...splitHeadFailures(found, from, notes));
  }
  return problems;
}

function loadWorking(root: string): { envelope: JsonSchema; versions: LogTypeVersion[] } | CompatProblem {
  try {
    return { envelope: loadEnvelope(join(root, 'envelope.json')), versions: loadBundledSchemas(join(root, 'log-types')) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { logType: '', from: '', to: '', field: '', rule: 'load-failed', message: `the schema files could not be loaded: ${reason} (load-failed).` };
  }
}

export function runCheck(options: CheckOptions = {}): CheckReport {
  const root = options.root ?? defaultRoot;
  const working = loadWorking(root);
  if ('rule' in working) return { logTypes: 0, versions: 0, problems: [working], notes: [] };
  const { envelope, versions } = working;
  const problems = checkHistory(envelope, versions);
  const head = readHead(root);
  const notes = typeof head === 'string' ? [head] : [...head.notes];
  if (typeof head !== 'string') problems.push(...compareWithHead(head, envelope, versions, notes));
  return { logTypes: new Set(versions.map((v) => v.logType)).size, versions: versions.length, problems, notes };
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function reportLines(report: CheckReport): string[] {
  const { logTypes, versions, problems } = report;
  const outcome = problems.length === 0 ? 'no breaking changes' : count(problems.length, 'problem');
  return [...report.notes, ...problems.map(formatProblem), `schemas:check: ${count(logTypes, 'log type')}, ${count(versions, 'version')}, ${outcome}`];
}

function isMain(): boolean {
  const script = process.argv[1];
  return script !== undefined && realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
}

if (isMain()) {
  const report = runCheck();
  for (const line of reportLines(report)) console.log(line);
  process.exitCode = report.problems.length === 0 ? 0 : 1;
}
