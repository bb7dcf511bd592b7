import { randomUUID } from 'node:crypto';
import { mkdir, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

export function tempPath(tmpDir: string): string {
  return join(tmpDir, randomUUID());
}

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/** Codes for "a file sits where a folder is needed, or the reverse" (object `a` vs `a/b`). */
export function isShapeClash(err: unknown): boolean {
  return ['ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY'].includes(errorCode(err) ?? '');
}

/**
 * Creates the folders between `base` and `dir` one level at a time. Unlike `mkdir -p` it never
 * recreates `base` itself, so a write racing a bucket delete fails with ENOENT instead of
 * resurrecting the bucket folder.
 */
async function ensureDirBelow(base: string, dir: string): Promise<void> {
  const rel = relative(base, dir);
  if (rel === '') return;
  let current = base;
  for (const segment of rel.split(sep)) {
    current = join(current, segment);
    try {
      await mkdir(current);
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
  }
}

/**
 * Atomically moves a finished temp file to its final path. A concurrent delete may prune the
 * freshly made parent folder between mkdir and rename; that shows as ENOENT, so try again.
 */
export async function renameIntoPlace(from: string, to: string, base: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await ensureDirBelow(base, dirname(to));
    try {
      await rename(from, to);
      return;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT' || attempt >= 4) throw err;
    }
  }
}

/** Writes via temp file + rename so no reader ever sees half a file. */
export async function writeFileAtomic(tmpDir: string, path: string, base: string, data: string): Promise<void> {
  const tmp = tempPath(tmpDir);
  await writeFile(tmp, data);
  try {
    await renameIntoPlace(tmp, path, base);
  } catch (err) {
    await removeFile(tmp);
    throw err;
  }
}

/** Unlinks, treating "already gone" as success. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/** Removes now-empty folders from `dir` up to (not including) `stopAt`, so deleted prefixes vanish. */
export async function pruneEmptyDirs(dir: string, stopAt: string): Promise<void> {
  let current = dir;
  while (current !== stopAt && current.startsWith(stopAt + sep)) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty, already gone, or a file: either way nothing above it is empty
    }
    current = dirname(current);
  }
}
