import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import AdmZip from 'adm-zip';
import { build, type Metafile, type Plugin } from 'esbuild';

/**
 * The deployable source of a Cloud Run function (gen2, runtime nodejs20), built without Docker:
 * Cloud Build's Node.js buildpack unpacks the zip, runs `npm ci` against the lockfile in it
 * (dev dependencies omitted) and starts `functions-framework --target=<service>`, which loads
 * package.json "main".
 * https://cloud.google.com/functions/docs/writing#directory-structure
 *
 * index.mjs holds the workspace code (the service, @strata/runtime, @strata/schemas); every
 * third-party package stays an import, installed by that `npm ci` at the version the repo tested:
 * the Google clients, functions-framework (the buildpack starts the one in node_modules),
 * parquet-wasm (loads its .wasm beside itself) and @duckdb/node-api (a native addon) could not be
 * inlined anyway. Files the workspace code reads at run time are copied to `assets/` (see
 * runtime's assetPath).
 */
export type ServiceName = 'ingest' | 'writer' | 'curator';
export const SERVICES: readonly ServiceName[] = ['ingest', 'writer', 'curator'];

export interface BundleResult {
  /** The unzipped bundle: what the zip holds. */
  dir: string;
  /** `<outDir>/<service>-<sha256 first 16>.zip`: a change of any byte is a new name, so Pulumi redeploys. */
  zipPath: string;
  /** Of the zip's bytes. */
  sha256: string;
  /** The Functions Framework target, the same as the service's name. */
  entryPoint: string;
  /** What the zip holds, relative and in zip order. */
  files: string[];
}

export interface BundleOptions {
  /** npm's cache folder for the lockfile resolution (npm's default when unset). */
  npmCache?: string;
}

/** What esbuild and the metafile gave, before the lockfile and the zip. */
export interface BuiltBundle {
  dir: string;
  /** Third-party packages index.mjs imports, at the version installed in the repo. */
  dependencies: Record<string, string>;
  /** Repo-relative sources inlined into index.mjs. */
  inputs: string[];
  /** Repo-relative files and folders copied to `assets/`. */
  assets: string[];
  metafile: Metafile;
}

export const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));
/** Where `npm run bundle -w @strata/infra` writes (git-ignored). */
export const DEFAULT_OUT_DIR = join(repoRoot, 'infra', 'dist', 'functions');
export const ENTRY_FILE = 'index.mjs';

/**
 * Worker-thread modules, built as entries of their own beside index.mjs (a worker runs a file,
 * not a function of the bundle). The service finds each with runtime's workerPath(import.meta.url,
 * '<source>', '<name>.mjs'), and the build checks that every such call names one of these.
 */
export const WORKER_ENTRIES: Readonly<Record<ServiceName, Readonly<Record<string, string>>>> = {
  ingest: { 'prepare-worker': 'services/ingest/src/prepare-worker.ts' },
  writer: {},
  curator: {},
};
const ASSETS_DIR = 'assets';
/** A fixed DOS date-time (2000-01-01 00:00) for every entry: the zip must not depend on when files were written. */
const ZIP_DOS_TIME = ((2000 - 1980) << 9 | 1 << 5 | 1) << 16;
const ZIP_FILE_MODE = 0o644;

const run = promisify(execFile);

interface LockPackage {
  version?: string;
  dev?: boolean;
  link?: boolean;
}
interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const toPosix = (path: string) => path.split(sep).join('/');

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Workspace packages (@strata/*) go into the bundle; any other bare import stays an import. */
const externalThirdParty: Plugin = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@strata/') ? undefined : { path: args.path, external: true }));
  },
};

/** The package.json nearest above a repo-relative source file: the workspace it belongs to. */
function workspaceOf(input: string): { dir: string; manifest: PackageJson } {
  for (let dir = dirname(resolve(repoRoot, input)); dir.startsWith(repoRoot); dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return { dir, manifest: readJson<PackageJson>(path) };
  }
  throw new Error(`${input} is in no workspace`);
}

/** The lockfile entry Node would load `name` from when imported by a file in `fromDir` (node_modules lookup, upwards). */
function installedFrom(lock: Record<string, LockPackage>, fromDir: string, name: string): { key: string; entry: LockPackage } | undefined {
  for (let dir = fromDir; dir.startsWith(repoRoot); dir = dirname(dir)) {
    const key = toPosix(relative(repoRoot, join(dir, 'node_modules', name)));
    const entry = lock[key];
    if (entry) return { key, entry };
  }
  return undefined;
}

export interface ImportProblem {
  importer: string;
  specifier: string;
  problem: string;
}

/**
 * Every package in the bundle's import graph must be a runtime dependency of the workspace that
 * imports it: a devDependency (a code generator, a test helper, a local emulator) is absent from
 * a production install, and `npm ci --omit=dev` would leave the function failing at start-up.
 */
export function importProblems(metafile: Metafile, lock: Record<string, LockPackage> = readLock()): ImportProblem[] {
  const problems: ImportProblem[] = [];
  for (const [importer, input] of Object.entries(metafile.inputs)) {
    const { dir, manifest } = workspaceOf(importer);
    const runtime = { ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies };
    for (const record of input.imports) {
      const specifier = record.original ?? record.path;
      if (isBuiltin(specifier) || !/^[^./]/.test(specifier)) continue;
      const name = packageNameOf(specifier);
      if (!(name in runtime)) {
        const where = manifest.devDependencies && name in manifest.devDependencies ? 'a devDependency' : 'not a dependency';
        problems.push({ importer, specifier, problem: `${name} is ${where} of ${manifest.name ?? dir}` });
        continue;
      }
      if (name.startsWith('@strata/')) continue;
      const installed = installedFrom(lock, dirname(resolve(repoRoot, importer)), name);
      if (!installed) problems.push({ importer, specifier, problem: `${name} is not in package-lock.json` });
      else if (installed.entry.dev) problems.push({ importer, specifier, problem: `${installed.key} is installed only for dev dependencies (package-lock.json)` });
    }
  }
  return problems;
}

function readLock(): Record<string, LockPackage> {
  return readJson<{ packages: Record<string, LockPackage> }>(join(repoRoot, 'package-lock.json')).packages;
}

/**
 * The third-party packages index.mjs still imports (metafile outputs: what survived tree shaking),
 * each at the version installed for the workspace that imports it. One bundle installs flat, so
 * two versions of one package are refused.
 */
function dependenciesOf(metafile: Metafile, lock: Record<string, LockPackage>): Record<string, string> {
  const imported = new Set(
    Object.values(metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((record) => record.external && !isBuiltin(record.path))
      .map((record) => packageNameOf(record.path)),
  );
  const versions = new Map<string, { version: string; importer: string }>();
  for (const [importer, input] of Object.entries(metafile.inputs)) {
    for (const record of input.imports) {
      if (!record.external || isBuiltin(record.path) || !imported.has(packageNameOf(record.path))) continue;
      const name = packageNameOf(record.path);
      const version = installedFrom(lock, dirname(resolve(repoRoot, importer)), name)?.entry.version;
      if (!version) throw new Error(`${importer} imports ${name}, which package-lock.json does not install for it`);
      const seen = versions.get(name);
      if (seen && seen.version !== version) throw new Error(`${name} is imported at ${seen.version} (${seen.importer}) and ${version} (${importer}); one bundle can hold one`);
      versions.set(name, { version, importer });
    }
  }
  return Object.fromEntries([...versions].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, { version }]) => [name, version]));
}

const ASSET_CALL = /assetPath\(\s*import\.meta\.url\s*,\s*'([^']+)'\s*,\s*'([^']+)'\s*\)/g;
const WORKER_CALL = /workerPath\(\s*import\.meta\.url\s*,\s*'([^']+)'\s*,\s*'([^']+)\.mjs'\s*\)/g;
const stripComments = (source: string) => source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

/**
 * The files the inlined modules read at run time, from their `assetPath(import.meta.url, …)` calls.
 * Any other use of `import.meta.url` would point at the bundle instead of the module's folder, so
 * it fails the build rather than the deployed function; so does a `workerPath` call naming a
 * worker that `workers` (the service's WORKER_ENTRIES) does not build, or a different source.
 */
export function assetsOf(inputs: string[], workers: Readonly<Record<string, string>> = {}): string[] {
  const assets = new Set<string>();
  for (const input of inputs) {
    const source = stripComments(readFileSync(resolve(repoRoot, input), 'utf8'));
    const uses = source.split('import.meta.url').length - 1;
    const calls = [...source.matchAll(ASSET_CALL)];
    const workerCalls = [...source.matchAll(WORKER_CALL)];
    if (uses !== calls.length + workerCalls.length) {
      throw new Error(`${input} uses import.meta.url outside assetPath(import.meta.url, '<relative>', '<from repo root>'): bundled, it would point at index.mjs`);
    }
    for (const [, relativeSource = '', name = ''] of workerCalls) {
      const local = toPosix(relative(repoRoot, resolve(dirname(resolve(repoRoot, input)), relativeSource)));
      if (workers[name] !== local) throw new Error(`${input}: workerPath names worker ${name}.mjs (${local}), which WORKER_ENTRIES does not build for this service`);
    }
    for (const [, inPackage = '', fromRoot = ''] of calls) {
      const local = resolve(dirname(resolve(repoRoot, input)), inPackage);
      if (local !== resolve(repoRoot, fromRoot)) throw new Error(`${input}: assetPath names ${inPackage} (${toPosix(relative(repoRoot, local))}) and ${fromRoot}, which differ`);
      if (!existsSync(local)) throw new Error(`${input}: ${fromRoot} does not exist`);
      assets.add(fromRoot.replace(/\/$/, ''));
    }
  }
  return [...assets].sort();
}

/** The generated manifest: only what the bundle imports, pinned; the buildpack's start is the framework. */
export function manifestFor(service: ServiceName, dependencies: Record<string, string>): Record<string, unknown> {
  return {
    name: `strata-${service}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    main: ENTRY_FILE,
    scripts: { start: `functions-framework --target=${service}` },
    engines: { node: '20.x' },
    dependencies,
  };
}

/** esbuild, the copied assets and package.json into `dir` (emptied first); no lockfile, no network. */
export async function buildBundle(service: ServiceName, dir: string): Promise<BuiltBundle> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await build({
    absWorkingDir: repoRoot,
    // index.mjs (ENTRY_FILE) and one .mjs per worker; no code splitting, so each stands alone.
    entryPoints: { index: `services/${service}/src/function.ts`, ...WORKER_ENTRIES[service] },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [externalThirdParty],
    metafile: true,
    logLevel: 'silent',
  });
  const lock = readLock();
  const problems = importProblems(result.metafile, lock);
  if (problems.length > 0) throw new Error(`the ${service} bundle would import what a production install lacks:\n${problems.map((p) => `  ${p.importer} → ${p.specifier}: ${p.problem}`).join('\n')}`);
  const inputs = Object.keys(result.metafile.inputs).sort();
  const assets = assetsOf(inputs, WORKER_ENTRIES[service]);
  for (const asset of assets) cpSync(join(repoRoot, asset), join(dir, ASSETS_DIR, asset), { recursive: true });
  const dependencies = dependenciesOf(result.metafile, lock);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifestFor(service, dependencies), null, 2)}\n`);
  return { dir, dependencies, inputs, assets, metafile: result.metafile };
}

/**
 * package-lock.json for the generated manifest, resolved against the registry, so the buildpack's
 * `npm ci` installs exactly this tree. The npm_* variables of an enclosing `npm run` are dropped:
 * npm_config_local_prefix would point this npm at the monorepo. `resolved` URLs are left out (as
 * the repo's own lockfile does) so the lock does not depend on a machine's registry setting.
 */
export async function lockDependencies(dir: string, options: BundleOptions = {}): Promise<void> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'));
  const args = ['install', '--package-lock-only', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--omit-lockfile-registry-resolved', '--prefix', dir];
  if (options.npmCache) args.push('--cache', options.npmCache);
  await run('npm', args, { cwd: dir, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
}

/** Every file under `dir`, relative, `/`-separated, sorted: the zip's order. */
export function listFiles(dir: string, under = ''): string[] {
  return readdirSync(join(dir, under), { withFileTypes: true })
    .flatMap((entry) => {
      const path = under ? `${under}/${entry.name}` : entry.name;
      return entry.isDirectory() ? listFiles(dir, path) : [path];
    })
    .sort();
}

/** The same files give the same bytes: fixed order, time and mode, whatever the disk says. */
export function zipFiles(dir: string, files: string[]): Buffer {
  const zip = new AdmZip();
  for (const file of files) {
    const entry = zip.addFile(file, readFileSync(join(dir, file)), '', ZIP_FILE_MODE);
    entry.header.timeval = ZIP_DOS_TIME;
  }
  return zip.toBuffer();
}

/** Builds, locks and zips one service's function source into `outDir`; older zips of it there are removed. */
export async function bundleService(service: ServiceName, outDir: string, options: BundleOptions = {}): Promise<BundleResult> {
  const dir = join(resolve(outDir), service);
  await buildBundle(service, dir);
  await lockDependencies(dir, options);
  const files = listFiles(dir);
  const bytes = zipFiles(dir, files);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  for (const old of readdirSync(resolve(outDir)).filter((name) => name.startsWith(`${service}-`) && name.endsWith('.zip'))) rmSync(join(resolve(outDir), old));
  const zipPath = join(resolve(outDir), `${service}-${sha256.slice(0, 16)}.zip`);
  writeFileSync(zipPath, bytes);
  return { dir, zipPath, sha256, entryPoint: service, files };
}

/** For the CLI's report. */
export function sizeOf(path: string): number {
  return statSync(path).size;
}
