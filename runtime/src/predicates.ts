/** Small shared predicates: one copy, so a fix lands everywhere at once. */

/** A plain JSON object: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Standard base64 with padding, as Pub/Sub sends it; Buffer.from would silently skip anything else.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(value: string): boolean {
  return BASE64.test(value);
}

/** A decimal integer ≥ 1 written without sign, leading zeros or exponent (attribute values). */
export function isPositiveIntegerText(value: string): boolean {
  return /^[1-9]\d{0,15}$/.test(value);
}
