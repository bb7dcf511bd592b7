import { invalid, type GcsError } from './errors.js';

export interface MultipartUpload {
  /** The first part: the object resource as JSON. */
  metadata: unknown;
  /** The second part's Content-Type, the object's content type unless the metadata names one. */
  mediaType: string | undefined;
  media: Buffer;
}

/**
 * Splits a `multipart/related` upload body (RFC 2387) into its metadata and media parts, as
 * the JSON API's `uploadType=multipart` expects:
 * https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object (multipart)
 * The body is binary, so it is scanned as bytes for `\r\n--boundary` delimiters.
 */
export function parseMultipartRelated(body: Buffer, contentType: string | undefined): MultipartUpload | GcsError {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const token = boundary?.[1] ?? boundary?.[2];
  if (!token) return invalid('Multipart upload needs a Content-Type of multipart/related with a boundary');
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  const delimiter = Buffer.from(`--${token}`);
  // The first delimiter may open the body without a preceding CRLF.
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    let start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break; // close delimiter
    const headerEnd = body.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    const end = next < 0 ? body.length : next;
    parts.push({ headers: parseHeaders(body.subarray(start, headerEnd).toString('utf8')), body: body.subarray(headerEnd + 4, end) });
    at = next < 0 ? -1 : next + 2;
  }
  const [meta, media] = parts;
  if (!meta || !media) return invalid('Multipart upload must have a metadata part and a media part');
  let metadata: unknown;
  try {
    metadata = meta.body.length === 0 ? {} : JSON.parse(meta.body.toString('utf8'));
  } catch {
    return invalid('Metadata part of the multipart upload is not JSON');
  }
  return { metadata, mediaType: media.headers['content-type'], media: media.body };
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
