import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareNames, globToRegExp, pageOfNames, walkObjectNames, type ListQuery } from './listing.js';

const names = ['a/1', 'a/2', 'a/b/3', 'a/c/4', 'a/c/5', 'a0', 'b'].sort(compareNames);
const query = (over: Partial<ListQuery>): ListQuery => ({ prefix: '', maxResults: 1000, ...over });

/** Follows nextPageToken to the end, as a client would. */
function allPages(over: Partial<ListQuery>) {
  const pages = [];
  let pageToken: string | undefined;
  do {
    const page = pageOfNames(names, query({ ...over, pageToken }));
    pages.push(page);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return pages;
}

describe('pageOfNames', () => {
  it('collapses names past the delimiter into prefixes', () => {
    expect(pageOfNames(names, query({ prefix: 'a/', delimiter: '/' }))).toEqual({
      objects: ['a/1', 'a/2'],
      prefixes: ['a/b/', 'a/c/'],
    });
  });

  it('counts objects and prefixes toward maxResults and never repeats a prefix across pages', () => {
    const pages = allPages({ prefix: 'a/', delimiter: '/', maxResults: 3 });
    expect(pages.map((p) => [...p.objects, ...p.prefixes])).toEqual([['a/1', 'a/2', 'a/b/'], ['a/c/']]);
  });

  it('pages through every name without a delimiter', () => {
    const pages = allPages({ maxResults: 2 });
    expect(pages.flatMap((p) => p.objects)).toEqual(names);
    expect(pages).toHaveLength(4);
  });

  it('honours startOffset (inclusive) and endOffset (exclusive)', () => {
    expect(pageOfNames(names, query({ startOffset: 'a/2', endOffset: 'a0' })).objects).toEqual(['a/2', 'a/b/3', 'a/c/4', 'a/c/5']);
  });

  it('orders by UTF-8 bytes like GCS, not by UTF-16 code units', () => {
    // U+FF5E sorts before U+1F600 in UTF-8 bytes, but after it in UTF-16 (surrogate 0xD83D).
    expect(['😀', '～'].sort(compareNames)).toEqual(['～', '😀']);
  });
});

describe('globToRegExp', () => {
  it('follows matchGlob: * within a level, ** across levels, ? [] {} ', () => {
    const lake = [
      'events/log_type=a/dt=2024-01-01/hr=00/x.parquet',
      'events/log_type=b/dt=2024-01-02/hr=13/y.parquet',
      'events/log_type=a/dt=2024-01-01/hr=00/x.json',
      'top.parquet',
    ];
    const match = (glob: string) => lake.filter((name) => globToRegExp(glob).test(name));
    expect(match('**/*.parquet')).toEqual([lake[0], lake[1], lake[3]]);
    expect(match('events/*/dt=2024-01-0?/**')).toEqual(lake.slice(0, 3));
    expect(match('events/log_type=[!b]/**/*.{json,parquet}')).toEqual([lake[0], lake[2]]);
    expect(match('*.parquet')).toEqual([lake[3]]);
  });
});

describe('walkObjectNames', () => {
  it('lists exactly the names of the range, however the range cuts the folders it skips', async () => {
    const root = await mkdtemp(join(tmpdir(), 'strata-walk-'));
    try {
      const all = ['d/dt=01/hr=00/x', 'd/dt=01/hr=23/x', 'd/dt=02/hr=00/x', 'd/dt=02/hr=05/y', 'd/dt=03/hr=00/x', 'd/dt=030/x', 'e/x'];
      for (const name of all) {
        await mkdir(join(root, ...name.split('/').slice(0, -1)), { recursive: true });
        await writeFile(join(root, ...name.split('/')), '');
      }
      const within = (start?: string, end?: string) => all.filter((n) => n.startsWith('d/') && (start === undefined || compareNames(n, start) >= 0) && (end === undefined || compareNames(n, end) < 0));
      for (const [start, end] of [['d/dt=02/', 'd/dt=03/'], ['d/dt=01/hr=23/x', undefined], [undefined, 'd/dt=02/hr=05/y'], ['d/dt=03', 'd/dt=031'], ['d/dt=02/hr=01', 'd/dt=02/hr=05/z']] as const) {
        expect(await walkObjectNames(root, 'd/', { startOffset: start, endOffset: end })).toEqual(within(start, end));
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("with a '/' delimiter, walks a collapsed folder to its first listed name, and the page is the same as over every name", async () => {
    const root = await mkdtemp(join(tmpdir(), 'strata-walk-'));
    try {
      const all = ['events/log_type=a/dt=01/hr=00/x.parquet', 'events/log_type=a/dt=01/hr=01/y.json', 'events/log_type=a/dt=02/hr=00/x.parquet', 'events/log_type=b/dt=01/hr=00/y.json', 'events/top.json', 'eventsx/z'];
      for (const name of all) {
        await mkdir(join(root, ...name.split('/').slice(0, -1)), { recursive: true });
        await writeFile(join(root, ...name.split('/')), '');
      }
      const collapsed = await walkObjectNames(root, 'events/', {}, { delimiter: '/' });
      expect(collapsed.filter((n) => n.startsWith('events/log_type=a/'))).toHaveLength(1);
      expect(collapsed.filter((n) => n.startsWith('events/log_type=b/'))).toHaveLength(1);
      const cases: Array<[string, { startOffset?: string; endOffset?: string }, string | undefined]> = [
        ['events/', {}, undefined],
        ['events', {}, undefined],
        ['events/log_type=a/', {}, undefined],
        ['events/log_type=a/dt=0', {}, undefined],
        ['events/', { startOffset: 'events/log_type=a/dt=02/' }, undefined],
        ['events/', { endOffset: 'events/log_type=a/dt=01/hr=01/' }, undefined],
        ['events/log_type=a/', {}, '**/*.json'],
        ['events/', {}, '**/*.json'],
        ['', {}, undefined],
      ];
      for (const [prefix, range, matchGlob] of cases) {
        const glob = matchGlob ? globToRegExp(matchGlob) : undefined;
        const q = query({ prefix, delimiter: '/', ...range, ...(glob ? { glob } : {}) });
        const names = await walkObjectNames(root, prefix, range, { delimiter: '/', ...(glob ? { accept: (n: string) => glob.test(n) } : {}) });
        expect(pageOfNames(names, q), `${prefix} ${JSON.stringify(range)} ${matchGlob}`).toEqual(pageOfNames(all, q));
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
