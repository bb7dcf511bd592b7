import { status } from '@grpc/grpc-js';
import { fail, ok, type Outcome } from './outcome.js';

/**
 * Resource names: projects/{project}/topics/{id} and projects/{project}/subscriptions/{id}.
 * IDs follow Pub/Sub's rules: start with a letter, 3–255 characters of letters, digits and - _ . ~ + %,
 * and not start with "goog". https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names
 */
export type Collection = 'topics' | 'subscriptions';

export interface ResourceName {
  project: string;
  id: string;
}

const ID = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

/** A subscription whose topic was deleted keeps this as its topic, as the real service reports it. */
export const DELETED_TOPIC = '_deleted-topic_';

export function parseName(name: string | undefined, collection: Collection): Outcome<ResourceName> {
  const parts = (name ?? '').split('/');
  const [projects, project, kind, id] = parts;
  if (parts.length !== 4 || projects !== 'projects' || !project || kind !== collection || !id || !ID.test(id)) {
    return fail(status.INVALID_ARGUMENT, `Invalid [${collection}] name: (name=${name ?? ''})`);
  }
  return ok({ project, id });
}

export function parseProject(project: string | undefined): Outcome<string> {
  const match = /^projects\/([^/]+)$/.exec(project ?? '');
  return match?.[1] ? ok(match[1]) : fail(status.INVALID_ARGUMENT, `Invalid project: ${project ?? ''}`);
}

export const projectOf = (name: string): string => name.split('/')[1] ?? '';
export const idOf = (name: string): string => name.split('/')[3] ?? '';
