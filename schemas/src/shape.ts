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

interface Node {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Node | undefined;
}

// The path is only built when a limit is hit; the walk itself allocates one small node per value.
function pointer(node: Node): string {
  const parts: string[] = [];
  for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) {
    parts.push(`/${String(n.key).replaceAll('~', '~0').replaceAll('/', '~1')}`);
  }
  return parts.reverse().join('');
}

export function checkShape(value: unknown, limits: ShapeLimits): FieldError | undefined {
  let nodes = 0;
  const stack: Node[] = [{ value, depth: 0, key: undefined, parent: undefined }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.value;
    if (++nodes > limits.maxNodes) return { path: '', message: `must have at most ${limits.maxNodes} values in all` };
    if (typeof v === 'string') {
      if (v.length > limits.maxStringLength) return { path: pointer(node), message: `must NOT have more than ${limits.maxStringLength} characters` };
      // A lone surrogate (from a "\ud800" escape) is not text: stored, it turns into U+FFFD or breaks readers.
      if (!isWellFormed(v)) return { path: pointer(node), message: 'must be well-formed Unicode (it holds a lone surrogate)' };
      continue;
    }
    // JSON.parse turns 1e309 into Infinity, which JSON.stringify would store as null.
    if (typeof v === 'number' && !Number.isFinite(v)) return { path: pointer(node), message: 'must be a finite number (it is out of range)' };
    if (typeof v !== 'object' || v === null) continue;
    if (node.depth >= limits.maxDepth) return { path: pointer(node), message: `must NOT be nested deeper than ${limits.maxDepth} levels` };
    const depth = node.depth + 1;
    if (Array.isArray(v)) {
      if (v.length > limits.maxArrayItems) return { path: pointer(node), message: `must NOT have more than ${limits.maxArrayItems} items` };
      for (let i = 0; i < v.length; i++) stack.push({ value: v[i], depth, key: i, parent: node });
    } else {
      let count = 0;
      for (const key in v) {
        if (++count > limits.maxObjectProperties) return { path: pointer(node), message: `must NOT have more than ${limits.maxObjectProperties} properties` };
        if (key.length > limits.maxKeyLength) return { path: pointer(node), message: `must NOT have field names longer than ${limits.maxKeyLength} characters (one has ${key.length})` };
        if (!isWellFormed(key)) return { path: pointer(node), message: 'must NOT have field names holding a lone surrogate' };
        stack.push({ value: (v as Record<string, unknown>)[key], depth, key, parent: node });
      }
    }
  }
  return undefined;
}
