/**
 * `npm run schemas:types` writes schemas/generated/ (publisher types, BigQuery schemas);
 * `npm run schemas:types -- --check` fails when the checked-in files are stale (CI runs it).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, loadBundledSchemas } from '../src/index.js';
import { generateAll } from '../src/generate.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

const files = await generateAll(createRegistry(loadBundledSchemas()));
const wanted = new Set(files.map((f) => f.path));
const listExisting = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listExisting(join(dir, e.name)) : [relative(root, join(dir, e.name))])) : [];
const leftovers = listExisting(join(root, 'generated')).filter((p) => !wanted.has(p));

if (check) {
  const stale = files.filter((f) => !existsSync(join(root, f.path)) || readFileSync(join(root, f.path), 'utf8') !== f.content).map((f) => f.path);
  const problems = [...stale.map((p) => `stale: schemas/${p}`), ...leftovers.map((p) => `not generated from any schema: schemas/${p}`)];
  if (problems.length) {
    console.error(`${problems.join('\n')}\nschemas:types: generated files are out of date; run \`npm run schemas:types\` and commit the result.`);
    process.exit(1);
  }
  console.log(`schemas:types: ${files.length} generated files are up to date`);
} else {
  for (const f of files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
  }
  for (const p of leftovers) rmSync(join(root, p));
  console.log(`schemas:types: wrote ${files.length} files under schemas/generated/`);
}
