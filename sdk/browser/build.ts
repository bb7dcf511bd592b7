/**
 * `npm run build -w @strata/browser`: the SDK as one ES module (dist/strata.mjs) and one
 * script-tag bundle (dist/strata.js, global `Strata`), minified, and their sizes. The e2e test
 * builds in memory with the same function, so it always tests the current source.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface BuiltFile {
  name: 'strata.mjs' | 'strata.js';
  text: string;
  bytes: number;
  gzipBytes: number;
}

// ES2019 (browsers from 2019 on, which all have sendBeacon; IntersectionObserver is feature-detected):
// esbuild lowers `??`, `?.` and class fields.
const TARGET = ['es2019'];

export async function buildBrowserSdk(options: { write?: boolean; outdir?: string } = {}): Promise<BuiltFile[]> {
  const common: BuildOptions = {
    entryPoints: [join(here, 'src/index.ts')],
    bundle: true,
    minify: true,
    target: TARGET,
    platform: 'browser',
    write: false,
    legalComments: 'none',
    logLevel: 'warning',
  };
  const [esm, iife] = await Promise.all([
    build({ ...common, format: 'esm', outfile: 'strata.mjs' }),
    build({ ...common, format: 'iife', globalName: 'Strata', outfile: 'strata.js' }),
  ]);
  const files: BuiltFile[] = [
    { name: 'strata.mjs', text: esm.outputFiles![0]!.text },
    { name: 'strata.js', text: iife.outputFiles![0]!.text },
  ].map(({ name, text }) => ({
    name: name as BuiltFile['name'],
    text,
    bytes: Buffer.byteLength(text),
    gzipBytes: gzipSync(text, { level: 9 }).length,
  }));
  if (options.write ?? true) {
    const outdir = options.outdir ?? join(here, 'dist');
    mkdirSync(outdir, { recursive: true });
    for (const file of files) writeFileSync(join(outdir, file.name), file.text);
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const file of await buildBrowserSdk()) {
    console.log(`dist/${file.name}: ${kb(file.bytes)} minified, ${kb(file.gzipBytes)} gzipped`);
  }
}
