import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadStrataConfig } from './config.js';
import { INGEST_KEYS } from './pulumi-mocks.fake.js';

interface ConfigDecl {
  type?: string;
  description?: string;
  default?: unknown;
  value?: unknown;
  secret?: boolean;
  items?: unknown;
}

/**
 * Pulumi's project rules (pkg/workspace/project.go, Project.Validate, and the project JSON schema),
 * encoded: no Pulumi CLI is installable here to run `pulumi preview` against the file.
 */
export function projectProblems(project: { name?: unknown; runtime?: unknown; config?: Record<string, ConfigDecl> }): string[] {
  const problems: string[] = [];
  if (typeof project.name !== 'string' || project.name === '') problems.push("project is missing a 'name' attribute");
  const runtime = project.runtime as string | { name?: string; options?: Record<string, unknown> } | undefined;
  const runtimeName = typeof runtime === 'string' ? runtime : runtime?.name;
  if (!runtimeName) problems.push("project is missing a 'runtime' attribute");
  const TYPES = ['string', 'integer', 'boolean', 'array', 'object'];
  const fits = (type: string, v: unknown) =>
    type === 'string'
      ? typeof v === 'string'
      : type === 'integer'
        ? (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v))
        : type === 'boolean'
          ? typeof v === 'boolean' || v === 'true' || v === 'false'
          : type === 'array'
            ? Array.isArray(v)
            : typeof v === 'object' && v !== null;
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    const allowed = ['type', 'description', 'default', 'value', 'secret', 'items'];
    for (const field of Object.keys(decl)) if (!allowed.includes(field)) problems.push(`${key}: unknown attribute '${field}'`);
    if (decl.default !== undefined && decl.value !== undefined) problems.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    const inProject = !key.includes(':') || key.startsWith(`${String(project.name)}:`);
    if (inProject) {
      if (decl.type !== undefined && !TYPES.includes(decl.type)) problems.push(`${key}: type '${decl.type}' is not one of ${TYPES.join('|')}`);
      if (decl.type === 'array' && decl.items === undefined) problems.push(`${key} declares an array but no 'items'`);
      if (decl.type !== undefined && decl.default !== undefined && !fits(decl.type, decl.default)) {
        problems.push(`The default value specified for configuration key '${key}' is not of the expected type '${decl.type}'`);
      }
    } else {
      if (decl.type !== undefined) problems.push(`Configuration key '${key}' is not namespaced by the project and should not define a type`);
      if (decl.default !== undefined) problems.push(`Configuration key '${key}' is not namespaced by the project and should not define a default value`);
      if (decl.value === undefined) problems.push(`Configuration key '${key}' is namespaced and must provide an attribute 'value'`);
    }
  }
  return problems;
}

const project = yaml.load(readFileSync(new URL('./Pulumi.yaml', import.meta.url), 'utf8')) as {
  name: string;
  runtime: { name: string; options: Record<string, unknown> };
  config: Record<string, ConfigDecl>;
};

describe('infra/Pulumi.yaml', () => {
  it('follows Pulumi’s project rules', () => {
    expect(projectProblems(project)).toEqual([]);
  });

  it('the rules catch what Pulumi refuses', () => {
    expect(projectProblems({ name: 'strata', runtime: 'nodejs', config: { 'gcp:project': { type: 'string', description: 'x' } } })).toEqual([
      "Configuration key 'gcp:project' is not namespaced by the project and should not define a type",
      "Configuration key 'gcp:project' is namespaced and must provide an attribute 'value'",
    ]);
    expect(projectProblems({ name: 'strata', runtime: 'nodejs', config: { 'strata:n': { type: 'integer', default: 'five' } } })).toHaveLength(1);
  });

  it('runs the ESM TypeScript program through tsx, not ts-node', () => {
    expect(project.runtime).toEqual({ name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx' } });
    const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { type: string; main: string; dependencies: Record<string, string> };
    expect(pkg).toMatchObject({ type: 'module', main: 'index.ts' });
    expect(pkg.dependencies).toHaveProperty('tsx');
  });

  it('declares every strata:* key with a type and a description, and the defaults are config.ts’s', () => {
    for (const [key, decl] of Object.entries(project.config)) {
      expect(key).toMatch(/^strata:/);
      expect(decl.type, key).toBeDefined();
      expect(decl.description, key).toBeTruthy();
    }
    const required = { 'strata:lakeBucketName': 'lake-bucket-x', 'strata:ingestKeys': INGEST_KEYS };
    const withDefaults: Record<string, string> = { ...required };
    // As Pulumi hands them to the program: arrays and objects as JSON, scalars as their text.
    for (const [key, decl] of Object.entries(project.config)) if (decl.default !== undefined) withDefaults[key] = typeof decl.default === 'string' ? decl.default : JSON.stringify(decl.default);
    const source = (values: Record<string, string>) => ({ get: (k: string) => values[`strata:${k}`] });
    const gcp = { get: (k: string) => (k === 'project' ? 'strata-test' : undefined) };
    const fromYaml = loadStrataConfig(source(withDefaults), gcp);
    const fromCode = loadStrataConfig(source(required), gcp);
    expect({ ...fromYaml, ingestKeys: null }).toEqual({ ...fromCode, ingestKeys: null });
    // Only the keys without a sensible default are required.
    expect(Object.entries(project.config).filter(([, d]) => d.default === undefined).map(([k]) => k).sort()).toEqual(Object.keys(required).sort());
  });

  it('reads no strata:* key that Pulumi.yaml does not declare', () => {
    const read = new Set<string>();
    loadStrataConfig({ get: (k) => (read.add(`strata:${k}`), k === 'lakeBucketName' ? 'lake-bucket-x' : k === 'ingestKeys' ? INGEST_KEYS : undefined) }, { get: () => 'strata-test' });
    expect([...read].filter((k) => !(k in project.config))).toEqual([]);
  });
});
