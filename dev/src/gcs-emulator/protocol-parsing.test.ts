import { describe, expect, it } from 'vitest';
import { isFinalChunk, parseContentRange } from './content-range.js';
import { parseRange } from './download.js';
import { objectNameProblem } from './layout.js';
import { parseMultipartRelated } from './multipart.js';

describe('parseContentRange', () => {
  it('reads every form @google-cloud/storage sends on a resumable PUT', () => {
    expect(parseContentRange('bytes */*')).toEqual({ kind: 'status' });
    expect(parseContentRange('bytes */42')).toEqual({ kind: 'size', total: 42 });
    expect(parseContentRange('bytes 0-262143/*')).toEqual({ kind: 'bytes', start: 0, end: 262143, rest: false });
    expect(parseContentRange('bytes 262144-716799/716800')).toEqual({ kind: 'bytes', start: 262144, end: 716799, rest: false, total: 716800 });
    expect(parseContentRange('bytes 0-*/*')).toEqual({ kind: 'bytes', start: 0, rest: true });
    expect(parseContentRange('bytes 0--1/0')).toEqual({ kind: 'bytes', start: 0, end: -1, rest: false, total: 0 });
    expect(parseContentRange(undefined)).toEqual({ kind: 'bytes', start: 0, rest: true });
    expect(parseContentRange('items 1-2/3')).toBeUndefined();
  });

  it('tells the PUT that completes an object from the ones before it', () => {
    const final = (header: string | undefined) => isFinalChunk(parseContentRange(header));
    expect(final('bytes 0-262143/*')).toBe(false);
    expect(final('bytes 0-262143/716800')).toBe(false);
    expect(final('bytes 262144-716799/716800')).toBe(true);
    expect(final('bytes 0-*/*')).toBe(true);
    expect(final('bytes 0--1/0')).toBe(true);
    expect(final('bytes */42')).toBe(true);
    expect(final(undefined)).toBe(true);
    expect(final('bytes */*')).toBe(false);
    expect(final('items 1-2/3')).toBe(false);
  });
});

describe('parseRange', () => {
  it('serves closed, open and suffix ranges, clamped to the object', () => {
    expect(parseRange('bytes=5-9', 100)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-4', 100)).toEqual({ start: 96, end: 99 });
    expect(parseRange('bytes=50-500', 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange(undefined, 100)).toBeUndefined();
  });
});

describe('parseMultipartRelated', () => {
  it('splits metadata and binary media, keeping CRLFs inside the media', () => {
    const media = Buffer.from([0x0d, 0x0a, 0x2d, 0x2d, 0x00, 0xff, 0x0d, 0x0a]);
    const body = Buffer.concat([
      Buffer.from('--xyz\r\nContent-Type: application/json\r\n\r\n{"name":"a/b","contentType":"text/csv"}\r\n'),
      Buffer.from('--xyz\r\nContent-Type: application/octet-stream\r\n\r\n'),
      media,
      Buffer.from('\r\n--xyz--'),
    ]);
    const parsed = parseMultipartRelated(body, 'multipart/related; boundary=xyz');
    expect(parsed).toMatchObject({ metadata: { name: 'a/b', contentType: 'text/csv' }, mediaType: 'application/octet-stream' });
    expect(Buffer.compare((parsed as { media: Buffer }).media, media)).toBe(0);
  });

  it('refuses a body without a boundary or without a media part', () => {
    expect(parseMultipartRelated(Buffer.from('x'), 'multipart/related')).toMatchObject({ status: 400 });
    expect(parseMultipartRelated(Buffer.from('--b\r\n\r\n{}\r\n--b--'), 'multipart/related; boundary=b')).toMatchObject({ status: 400 });
  });
});

describe('objectNameProblem', () => {
  it('accepts lake names and refuses names no file can mirror', () => {
    expect(objectNameProblem('events/log_type=a/dt=2024-01-01/hr=00/x y ü.parquet')).toBeUndefined();
    for (const name of ['', 'dir/', 'a//b', './a', 'a/../b', `${'x'.repeat(256)}/y`]) {
      expect(objectNameProblem(name), name).toBeDefined();
    }
  });
});
