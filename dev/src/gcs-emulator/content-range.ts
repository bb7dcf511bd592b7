// The `Content-Range` forms of a resumable upload PUT
// (https://cloud.google.com/storage/docs/performing-resumable-uploads):
//   bytes */*              status query
//   bytes */TOTAL          no bytes; declares the final size (finalizes once all arrived)
//   bytes S-E/TOTAL        a chunk; with a known TOTAL the last chunk finalizes ("*" = unknown)
//   bytes S-*/TOTAL        @google-cloud/storage's single-request form: the body is the rest
// The client also sends `bytes 0--1/0` for an empty object in chunked mode.
export type ContentRange =
  | { kind: 'status' }
  | { kind: 'size'; total: number }
  | { kind: 'bytes'; start: number; rest: boolean; total?: number; /** Last byte; absent with `rest`. */ end?: number };

export function parseContentRange(header: string | undefined): ContentRange | undefined {
  // No header: the whole object in one request.
  if (header === undefined || header.trim() === '') return { kind: 'bytes', start: 0, rest: true };
  const noBytes = /^bytes \*\/(\*|\d+)$/.exec(header.trim());
  if (noBytes) return noBytes[1] === '*' ? { kind: 'status' } : { kind: 'size', total: Number(noBytes[1]) };
  const chunk = /^bytes (\d+)-(-1|\d+|\*)\/(\*|\d+)$/.exec(header.trim());
  if (!chunk) return undefined;
  const [, start, end, total] = chunk;
  return {
    kind: 'bytes',
    start: Number(start),
    rest: end === '*',
    ...(end === '*' ? {} : { end: Number(end) }),
    ...(total === '*' ? {} : { total: Number(total) }),
  };
}

/** Whether a PUT with this range completes the object (the client sends nothing after it). */
export function isFinalChunk(range: ContentRange | undefined): boolean {
  if (!range || range.kind === 'status') return false;
  if (range.kind === 'size') return true;
  return range.rest || (range.total !== undefined && range.end !== undefined && range.end + 1 === range.total);
}
