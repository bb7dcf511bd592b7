import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { CRC32C } from '@google-cloud/storage';

export interface Checksums {
  /** Base64 of the MD5 digest, as in the object resource's `md5Hash`. */
  md5Hash: string;
  /** Base64 of the big-endian CRC32C (Castagnoli), as in the object resource's `crc32c`. */
  crc32c: string;
  size: number;
}

const READ_CHUNK = 1 << 20;

/**
 * Hashes an open file with positional reads, so the same handle can still be streamed from
 * offset 0 afterwards and the hashes describe exactly the inode that handle points at.
 */
export async function checksumHandle(handle: FileHandle): Promise<Checksums> {
  const md5 = createHash('md5');
  const crc = new CRC32C();
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  let size = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, size);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    md5.update(chunk);
    crc.update(chunk);
    size += bytesRead;
  }
  return { md5Hash: md5.digest('base64'), crc32c: crc.toString(), size };
}

/** Hashes a client declared (X-Goog-Hash header or upload metadata), both base64. */
export interface DeclaredHashes {
  md5?: string;
  crc32c?: string;
}

/** `X-Goog-Hash: crc32c=…,md5=…` → its parts (also the download header's format). */
export function parseGoogHash(header: string | undefined): DeclaredHashes {
  const result: DeclaredHashes = {};
  for (const pair of (header ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase();
    const value = pair.slice(at + 1).trim();
    if (key === 'md5') result.md5 = value;
    if (key === 'crc32c') result.crc32c = value;
  }
  return result;
}

export function formatGoogHash(sums: Pick<Checksums, 'md5Hash' | 'crc32c'>): string {
  return `crc32c=${sums.crc32c},md5=${sums.md5Hash}`;
}

/** Compares hashes a client declared (header or metadata) with what was stored; GCS answers 400. */
export function checksumMismatch(declared: DeclaredHashes, actual: Checksums): string | undefined {
  if (declared.crc32c && declared.crc32c !== actual.crc32c) {
    return `Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`;
  }
  if (declared.md5 && declared.md5 !== actual.md5Hash) {
    return `Provided MD5 hash "${declared.md5}" doesn't match calculated MD5 hash "${actual.md5Hash}".`;
  }
  return undefined;
}
