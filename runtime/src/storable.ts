/**
 * A value to keep in quarantine as it came, or a stand-in when JSON cannot write it back. V8's
 * JSON.parse reads nesting of any depth, but JSON.stringify recurses and overflows the stack at a
 * few thousand levels: a 1 MiB body of brackets is nested far deeper. Such an event is already
 * rejected for its depth; keeping it must not turn that 4xx-worthy input into a 5xx.
 */
export function storable(value: unknown): unknown {
  // Strings, numbers and the rest have no depth: no need to write them out once to find that out.
  if (typeof value !== 'object' || value === null) return value;
  try {
    JSON.stringify(value);
    return value;
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { unstorable: 'the value is nested too deeply for JSON to write back; its reasons say what was wrong' };
  }
}
