/**
 * The JSON API's error shape, which @google-cloud/storage turns into an ApiError with `code`,
 * `message` and `errors[]`: https://cloud.google.com/storage/docs/json_api/v1/status-codes
 */
export interface GcsError {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
  readonly location?: { type: string; name: string };
}

export function isGcsError(value: unknown): value is GcsError {
  return typeof value === 'object' && value !== null && 'status' in value && 'reason' in value;
}

export function errorBody(error: GcsError): { error: Record<string, unknown> } {
  const detail: Record<string, unknown> = { message: error.message, domain: 'global', reason: error.reason };
  if (error.location) {
    detail.locationType = error.location.type;
    detail.location = error.location.name;
  }
  return { error: { code: error.status, message: error.message, errors: [detail] } };
}

export const bucketNotFound = (_bucket: string): GcsError => ({
  status: 404,
  reason: 'notFound',
  message: 'The specified bucket does not exist.',
});

export const objectNotFound = (bucket: string, name: string): GcsError => ({
  status: 404,
  reason: 'notFound',
  message: `No such object: ${bucket}/${name}`,
});

export const conditionNotMet = (header: string): GcsError => ({
  status: 412,
  reason: 'conditionNotMet',
  message: 'At least one of the pre-conditions you specified did not hold.',
  location: { type: 'header', name: header },
});

/** 304 is what GCS answers for a failed `ifGenerationNotMatch`/`ifMetagenerationNotMatch` on reads. */
export const notModified = (): GcsError => ({ status: 304, reason: 'notModified', message: 'Not Modified' });

export const invalid = (message: string): GcsError => ({ status: 400, reason: 'invalid', message });

export const required = (what: string): GcsError => ({ status: 400, reason: 'required', message: `Required ${what}` });

export const conflict = (message: string): GcsError => ({ status: 409, reason: 'conflict', message });

export const notFound = (message: string): GcsError => ({ status: 404, reason: 'notFound', message });

export const rangeNotSatisfiable = (): GcsError => ({
  status: 416,
  reason: 'requestedRangeNotSatisfiable',
  message: 'The requested range cannot be satisfied.',
});
