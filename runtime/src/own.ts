/**
 * `obj[key] = value` that always makes an own data property. JSON.parse turns `"__proto__"` into
 * an ordinary own key; assigning that key would set the object's prototype instead, so it alone is
 * defined. Every other key is assigned: on a plain object nothing else in Object.prototype is a
 * setter, and assignment is several times faster than defineProperty on ingest's per-event path.
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
