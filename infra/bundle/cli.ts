/**
 * `npm run bundle -w @strata/infra [-- <service>…] [--out <dir>]`: each service's Cloud Run
 * function source into infra/dist/functions/ (git-ignored), with its size, hash and dependencies.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleService, DEFAULT_OUT_DIR, repoRoot, SERVICES, sizeOf, type ServiceName } from './bundle-service.js';

const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });
const unknown = positionals.filter((name) => !(SERVICES as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown service(s): ${unknown.join(', ')}; expected ${SERVICES.join(', ')}`);
  process.exit(2);
}
const services = positionals.length > 0 ? (positionals as ServiceName[]) : SERVICES;
const outDir = values.out ?? DEFAULT_OUT_DIR;

for (const service of services) {
  const started = Date.now();
  const result = await bundleService(service, outDir);
  const { dependencies } = JSON.parse(readFileSync(join(result.dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const kib = (sizeOf(result.zipPath) / 1024).toFixed(1);
  console.log(`${service}: ${relative(repoRoot, result.zipPath)}  ${kib} KiB  sha256 ${result.sha256}  (${result.files.length} files, ${Date.now() - started} ms)`);
  console.log(`  entry point ${result.entryPoint}; dependencies: ${Object.entries(dependencies).map(([name, version]) => `${name}@${version}`).join(', ')}`);
}
