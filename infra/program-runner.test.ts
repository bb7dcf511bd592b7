import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeEngine, type FakeEngine } from './fake-engine.fake.js';
import { EXPECTED_RESOURCE_COUNTS, fixtureBundles, INGEST_KEYS } from './pulumi-mocks.fake.js';

const infraDir = dirname(fileURLToPath(import.meta.url));

interface ProjectFile {
  name: string;
  runtime: { name: string; options: { typescript?: boolean; nodeargs?: string } };
  config: Record<string, { default?: unknown }>;
}

/**
 * Runs infra/index.ts the way `pulumi up` does: pulumi-language-nodejs spawns
 * `node <nodeargs> <@pulumi/pulumi/cmd/run> --monitor … --engine … --project … --stack … --pwd … .`
 * with the stack config (Pulumi.yaml defaults merged in) in PULUMI_CONFIG, and PULUMI_NODEJS_TYPESCRIPT
 * only when `typescript: true`. Here the monitor and engine are an in-process fake that records what
 * registers. The one substitution: a module hook serves fixture zips for ./bundle/bundle-service.js.
 */
describe('the program under @pulumi/pulumi’s own runner', () => {
  const project = yaml.load(readFileSync(join(infraDir, 'Pulumi.yaml'), 'utf8')) as ProjectFile;
  let engine: FakeEngine;
  let exit: { code: number | null; stderr: string; stdout: string };

  beforeAll(async () => {
    engine = await startFakeEngine(project.name, 'test');
    const runPath = createRequire(join(infraDir, 'package.json')).resolve('@pulumi/pulumi/cmd/run');
    const config: Record<string, string> = {};
    for (const [key, decl] of Object.entries(project.config)) {
      // As Pulumi hands them over: arrays and objects as JSON, scalars as their text.
      if (decl.default !== undefined) config[key] = typeof decl.default === 'string' ? decl.default : JSON.stringify(decl.default);
    }
    Object.assign(config, { 'gcp:project': 'strata-runner-test', 'strata:lakeBucketName': 'strata-runner-lake', 'strata:ingestKeys': INGEST_KEYS });
    // The language host hands config over as `<namespace>:config:<name>`.
    const pulumiConfig = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(':', ':config:'), v]));
    const nodeargs = (project.runtime.options.nodeargs ?? '').split(/\s+/).filter(Boolean);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PULUMI_CONFIG: JSON.stringify(pulumiConfig),
      PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(['strata:ingestKeys']),
      STRATA_TEST_BUNDLES: JSON.stringify(fixtureBundles()),
    };
    delete env.PULUMI_NODEJS_TYPESCRIPT;
    if (project.runtime.options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = 'true';
    const args = [
      ...nodeargs,
      '--import',
      new URL('./fixtures/register-bundle-stub.mjs', import.meta.url).href,
      runPath,
      '--monitor',
      engine.address,
      '--engine',
      engine.address,
      '--project',
      project.name,
      '--root-directory',
      infraDir,
      '--stack',
      'test',
      '--pwd',
      infraDir,
      '--parallel',
      '16',
      '.',
    ];
    exit = await new Promise((resolve) => {
      const child = spawn(process.execPath, args, { cwd: infraDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('exit', (code) => resolve({ code, stderr, stdout }));
    });
  }, 120_000);

  afterAll(async () => engine?.stop());

  it('loads the ESM TypeScript program with Pulumi.yaml’s runtime options and exits 0', () => {
    const errors = engine.logs.filter((l) => l.severity >= 3).map((l) => l.message);
    expect({ code: exit.code, errors }, exit.stderr + exit.stdout).toEqual({ code: 0, errors: [] });
    expect(project.runtime).toEqual({ name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx' } });
  });

  it('registers the stack, the components and every resource', () => {
    const byType = (t: string) => engine.registrations.filter((r) => r.type === t).length;
    expect(byType('pulumi:pulumi:Stack')).toBe(1);
    const counts: Record<string, number> = {};
    for (const r of engine.registrations.filter((r) => r.type !== 'pulumi:pulumi:Stack')) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual(EXPECTED_RESOURCE_COUNTS);
    const custom = Object.entries(EXPECTED_RESOURCE_COUNTS).filter(([t]) => !t.startsWith('strata:index:')).reduce((n, [, c]) => n + c, 0);
    expect(engine.registrations.filter((r) => r.custom).length).toBe(custom);
    expect(custom).toBe(136);
    expect(engine.invokes.map((i) => i.token)).toContain('gcp:organizations/getProject:getProject');
  });

  it('makes every Google resource wait for the APIs it needs', () => {
    const apis = new Set(engine.registrations.filter((r) => r.type === 'gcp:projects/service:Service').map((r) => r.urn));
    const byUrn = new Map(engine.registrations.map((r) => [r.urn, r]));
    const dependsOnApis = (urn: string, seen = new Set<string>()): boolean => {
      if (apis.has(urn)) return true;
      if (seen.has(urn)) return false;
      seen.add(urn);
      return (byUrn.get(urn)?.dependencies ?? []).some((d) => dependsOnApis(d, seen));
    };
    const google = engine.registrations.filter((r) => r.custom && r.type.startsWith('gcp:') && r.type !== 'gcp:projects/service:Service');
    expect(google.filter((r) => !dependsOnApis(r.urn)).map((r) => r.urn)).toEqual([]);
  });

  it('passes the config through: the bucket name reaches the lake', () => {
    const buckets = engine.registrations.filter((r) => r.type === 'gcp:storage/bucket:Bucket').map((r) => r.inputs.name);
    expect(buckets.sort()).toEqual(['strata-runner-lake', 'strata-runner-lake-functions']);
  });
});
