import { status } from '@grpc/grpc-js';
import { parseProject, type Collection } from './names.js';
import { fail, ok, type Outcome } from './outcome.js';

/** List pages: the token is the offset of the next item; page size 0 means the service default. */
const DEFAULT_PAGE_SIZE = 1000;

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export function page<T>(items: readonly T[], pageSize: number | undefined, pageToken: string | undefined): Outcome<Page<T>> {
  const start = pageToken ? Number(pageToken) : 0;
  if (!Number.isInteger(start) || start < 0) return fail(status.INVALID_ARGUMENT, `Invalid page token: ${pageToken}`);
  const end = start + (pageSize && pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE);
  return ok({ items: items.slice(start, end), nextPageToken: end < items.length ? String(end) : '' });
}

/** One page of a project's topics or subscriptions, ordered by name, from records keyed by full name. */
export function pageOfProject<T>(
  records: ReadonlyMap<string, { wire: T }>,
  project: string,
  collection: Collection,
  pageSize: number | undefined,
  pageToken: string | undefined,
): Outcome<Page<T>> {
  const parsed = parseProject(project);
  if (!parsed.ok) return parsed;
  const prefix = `${project}/${collection}/`;
  const names = [...records.keys()].filter((name) => name.startsWith(prefix)).sort();
  return page(
    names.map((name) => records.get(name)!.wire),
    pageSize,
    pageToken,
  );
}
