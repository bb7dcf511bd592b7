import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from './atomic-files.js';

/** Names ≥ startOffset and < endOffset, as objects.list takes them. */
export interface NameRange {
  startOffset?: string;
  endOffset?: string;
}

/** What a listing's walk may skip, beyond its prefix and range. */
export interface WalkOptions {
  /**
   * The listing's delimiter. With '/', a folder that the listing collapses into one prefix (one
   * past the prefix's next '/') yields just one name, not all of them: a delimiter listing of
   * `events/` then reads each log type's folder down to its first object, not all of history.
   */
  delimiter?: string;
  /** A further test a listed name must pass (matchGlob), so a collapsed folder yields a name that counts. */
  accept?: (name: string) => boolean;
}

/**
 * Object names under `prefix` in a bucket folder (within `range`, if given), in the API's order
 * (bytewise UTF-8): every one, or one per folder a '/' delimiter collapses (WalkOptions). Only
 * folders that can hold matching names are entered, so listing one lake partition reads just that
 * partition's folder, and listing a window of days reads only the days' folders, not all of
 * history (GCS seeks to startOffset; a walk of every folder made a list call's cost grow with the
 * bucket).
 */
export async function walkObjectNames(bucketDir: string, prefix: string, range: NameRange = {}, options: WalkOptions = {}): Promise<string[]> {
  const names: string[] = [];
  const collapses = (dir: string) => options.delimiter === '/' && dir.startsWith(prefix) && dir.indexOf('/', prefix.length) >= 0;
  /** Walks a folder; with `firstOnly`, stops at its first listed name and says whether there was one. */
  const visit = async (relDir: string, firstOnly: boolean): Promise<boolean> => {
    let entries: Dirent[];
    try {
      entries = await readdir(relDir === '' ? bucketDir : join(bucketDir, ...relDir.split('/')), { withFileTypes: true });
    } catch (err) {
      // A concurrent delete may prune a folder mid-walk; what is gone is simply not listed.
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return false;
      throw err;
    }
    for (const entry of entries) {
      const name = relDir + entry.name;
      if (entry.isDirectory()) {
        const dir = `${name}/`;
        if (!(dir.startsWith(prefix) || prefix.startsWith(dir)) || !mayHoldNamesIn(dir, range)) continue;
        if ((await visit(dir, firstOnly || collapses(dir))) && firstOnly) return true;
      } else if ((entry.isFile() || entry.isSymbolicLink()) && name.startsWith(prefix) && inRange(name, range) && (options.accept?.(name) ?? true)) {
        names.push(name);
        if (firstOnly) return true;
      }
    }
    return false;
  };
  await visit('', false);
  return names.sort(compareNames);
}

/**
 * Whether a folder can hold a name in the range. Every name in it starts with `dir`: when the
 * range starts after every such name (start is not under dir and sorts after it) or ends at or
 * before all of them, it has none.
 */
function mayHoldNamesIn(dir: string, { startOffset, endOffset }: NameRange): boolean {
  if (startOffset !== undefined && !startOffset.startsWith(dir) && compareNames(dir, startOffset) < 0) return false;
  if (endOffset !== undefined && compareNames(dir, endOffset) >= 0) return false;
  return true;
}

const inRange = (name: string, { startOffset, endOffset }: NameRange): boolean =>
  (startOffset === undefined || compareNames(name, startOffset) >= 0) && (endOffset === undefined || compareNames(name, endOffset) < 0);

/** GCS lists in lexicographic order of the UTF-8 bytes, which differs from JS UTF-16 order. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface ListQuery {
  prefix: string;
  delimiter?: string;
  startOffset?: string;
  endOffset?: string;
  pageToken?: string;
  maxResults: number;
  /** `matchGlob`, compiled by globToRegExp. */
  glob?: RegExp;
}

export interface ListPage {
  objects: string[];
  prefixes: string[];
  nextPageToken?: string;
}

/**
 * One page of `objects.list` over sorted names: names containing the delimiter after the
 * prefix collapse into `prefixes[]`; objects and prefixes together count toward `maxResults`,
 * and the page token is the last key returned, so a collapsed prefix is never repeated.
 * https://cloud.google.com/storage/docs/json_api/v1/objects/list
 */
export function pageOfNames(sortedNames: readonly string[], query: ListQuery): ListPage {
  const after = query.pageToken === undefined ? undefined : decodePageToken(query.pageToken);
  const page: ListPage = { objects: [], prefixes: [] };
  let count = 0;
  let lastKey: string | undefined;
  for (const name of sortedNames) {
    if (!name.startsWith(query.prefix)) continue;
    if (query.startOffset !== undefined && compareNames(name, query.startOffset) < 0) continue;
    if (query.endOffset !== undefined && compareNames(name, query.endOffset) >= 0) continue;
    if (query.glob && !query.glob.test(name)) continue;
    const cut = query.delimiter ? name.indexOf(query.delimiter, query.prefix.length) : -1;
    const isPrefix = query.delimiter !== undefined && cut >= 0;
    const key = isPrefix ? name.slice(0, cut + (query.delimiter?.length ?? 0)) : name;
    if (key === lastKey) continue; // more names under a prefix already taken
    if (after !== undefined && compareNames(key, after) <= 0) continue;
    if (count === query.maxResults) {
      page.nextPageToken = encodePageToken(lastKey ?? '');
      break;
    }
    (isPrefix ? page.prefixes : page.objects).push(key);
    lastKey = key;
    count++;
  }
  return page;
}

function encodePageToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodePageToken(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// `matchGlob` of objects.list: `*` stays within one folder level, `**` crosses levels (`**/`
// also matches no folder), `?` is one character, `[…]`/`[!…]` a class, `{a,b}` alternatives.
// https://cloud.google.com/storage/docs/json_api/v1/objects/list#list-objects-and-prefixes-using-glob
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`, 'su');
}

function globSource(glob: string): string {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob.charAt(i);
    if (char === '*' && glob.charAt(i + 1) === '*') {
      i++;
      if (glob.charAt(i + 1) === '/') {
        i++;
        source += '(?:.*/)?';
      } else {
        source += '.*';
      }
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[' && glob.indexOf(']', i + 2) > 0) {
      const close = glob.indexOf(']', i + 2);
      const body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
      source += body.startsWith('!') ? `[^${body.slice(1)}]` : `[${body}]`;
      i = close;
    } else if (char === '{' && glob.indexOf('}', i) > 0) {
      const close = glob.indexOf('}', i);
      source += `(?:${glob.slice(i + 1, close).split(',').map(globSource).join('|')})`;
      i = close;
    } else {
      source += escapeRegExp(char);
    }
  }
  return source;
}
