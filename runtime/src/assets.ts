import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where a deployable bundle (infra/bundle) puts the files its modules read at run time, beside
 * its index.mjs: `assets/<path from the repo root>`.
 */
export const BUNDLE_ASSETS_DIR = 'assets/';

/**
 * The path of a file or folder a module reads at run time (schemas, migrations). In the repo it
 * lies at `inPackage` relative to the module; bundled, every module is inlined into one index.mjs
 * whose `import.meta.url` is the bundle's, and the bundler copies the file to
 * `assets/<fromRoot>` beside it. Whichever exists wins, so the module needs no setting.
 *
 * Call it with literal strings and `import.meta.url`: the bundler reads these calls from the
 * source to know what to copy, and checks that `inPackage` and `fromRoot` name the same file.
 */
export function assetPath(moduleUrl: string, inPackage: string, fromRoot: string): string {
  const bundled = new URL(`${BUNDLE_ASSETS_DIR}${fromRoot}`, moduleUrl);
  return fileURLToPath(existsSync(bundled) ? bundled : new URL(inPackage, moduleUrl));
}

/**
 * The file a worker thread runs. In the repo it is `source` (a .ts module) relative to the
 * module; bundled, the bundler builds it as an entry of its own, `bundled`, beside index.mjs
 * (infra/bundle's WORKER_ENTRIES). Whichever exists wins. Call it with literal strings and
 * `import.meta.url`, as assetPath: the bundler reads these calls from the source.
 */
export function workerPath(moduleUrl: string, source: string, bundled: string): string {
  const built = new URL(bundled, moduleUrl);
  return fileURLToPath(existsSync(built) ? built : new URL(source, moduleUrl));
}
