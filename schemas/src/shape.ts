import type { FieldError } from './registry.js';

/**
 * Limits on the shape of any event, checked in one cheap walk before schema validation, so a
 * hostile event (deeply nested, huge arrays, megabyte strings in kept fields) cannot cost
 * unbounded CPU or memory. Typed fields also carry their own maxLength/maxItems in the schemas.
 */
export interface ShapeLimits {
  maxDepth: number;
  maxStringLength: number;
  /** Field names too: unknown fields are kept in `extra` under their own names. */
  maxKeyLength: number;
  maxArrayItems: number;
  maxObjectProperties: number;
  /** Total values (objects, arrays, scalars) in one event. */
  maxNodes: number;
}

export const DEFAULT_SHAPE_LIMITS: ShapeLimits = {
  maxDepth: 8,
  maxStringLength: 65_536,
  maxKeyLength: 256,
  maxArrayItems: 1_000,
  maxObjectProperties: 200,
  maxNodes: 10_000,
};

// String.prototype.isWellFormed is in Node 20 (V8 11.3) but not in the ES2023 lib this project targets.
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** A limit hit somewhere below: the path is built on the way back up, so the walk allocates nothing. */
interface Breach {
  keys: Array<string | number>;
  message: string;
}

const escapeKey = (key: string | number) => `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;

export function checkShape(value: unknown, limits: ShapeLimits): FieldError | undefined {
  const budget = { nodes: 0 };
  const breach = walk(value, 0, limits, budget);
  if (!breach) return undefined;
  return { path: breach.keys.reverse().map(escapeKey).join(''), message: breach.message };
}

// Recursive: the depth is bounded by maxDepth before it recurses, so the stack cannot overflow.
function walk(v: unknown, depth: number, limits: ShapeLimits, budget: { nodes: number }): Breach | undefined {
  if (++budget.nodes > limits.maxNodes) return { keys: [], message: `must have at most ${limits.maxNodes} values in all` };
  if (typeof v === 'string') {
    if (v.length > limits.maxStringLength) return { keys: [], message: `must NOT have more than ${limits.maxStringLength} characters` };
    // A lone surrogate (from a "\ud800" escape) is not text: stored, it turns into U+FFFD or breaks readers.
    if (!isWellFormed(v)) return { keys: [], message: 'must be well-formed Unicode (it holds a lone surrogate)' };
    return undefined;
  }
  // JSON.parse turns 1e309 into Infinity, which JSON.stringify would store as null.
  if (typeof v === 'number' && !Number.isFinite(v)) return { keys: [], message: 'must be a finite number (it is out of range)' };
  if (typeof v !== 'object' || v === null) return undefined;
  if (depth >= limits.maxDepth) return { keys: [], message: `must NOT be nested deeper than ${limits.maxDepth} levels` };
  if (Array.isArray(v)) {
    if (v.length > limits.maxArrayItems) return { keys: [], message: `must NOT have more than ${limits.maxArrayItems} items` };
    for (let i = 0; i < v.length; i++) {
      const below = walk(v[i], depth + 1, limits, budget);
      if (below) return (below.keys.push(i), below);
    }
    return undefined;
  }
  let count = 0;
  for (const key in v) {
    if (++count > limits.maxObjectProperties) return { keys: [], message: `must NOT have more than ${limits.maxObjectProperties} properties` };
    if (key.length > limits.maxKeyLength) return { keys: [], message: `must NOT have field names longer than ${limits.maxKeyLength} characters (one has ${key.length})` };
    if (!isWellFormed(key)) return { keys: [], message: 'must NOT have field names holding a lone surrogate' };
    const below = walk((v as Record<string, unknown>)[key], depth + 1, limits, budget);
    if (below) return (below.keys.push(key), below);
  }
  return undefined;
}
