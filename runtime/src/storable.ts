/**
 * Deeper than this, a value kept in quarantine is replaced by a stand-in. Every event that deep
 * is already rejected for its depth (the shape limit is 8 levels); the bound leaves JSON.stringify,
 * which recurses, thousands of stack frames of headroom wherever the value is written out later,
 * inside a batch line and a deeper call stack than here.
 */
export const MAX_STORABLE_DEPTH = 1_000;

/** Whether a JSON value nests deeper than `limit`, walked with an explicit stack (no recursion). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
    }
  }
  return false;
}

/**
 * A value to keep in quarantine as it came, or a stand-in when JSON cannot safely write it back.
 * V8's JSON.parse reads nesting of any depth, but JSON.stringify recurses and overflows the stack
 * at a few thousand levels, and how many depends on the stack it is called from: testing with a
 * stringify here passed values that then overflowed when the batch was encoded. Such an event is
 * already rejected for its depth; keeping it must not turn that 4xx-worthy input into a 5xx.
 */
export function storable(value: unknown): unknown {
  // Strings, numbers and the rest have no depth.
  if (typeof value !== 'object' || value === null) return value;
  if (!nestsDeeperThan(value, MAX_STORABLE_DEPTH)) return value;
  return { unstorable: `the value is nested more than ${MAX_STORABLE_DEPTH} levels deep, too deep to keep; its reasons say what was wrong` };
}
