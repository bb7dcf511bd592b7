import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BucketStore } from './bucket-store.js';
import type { GcsFaultInjector } from './faults.js';
import type { Layout } from './layout.js';
import type { ObjectStore } from './object-store.js';
import type { UploadSessions } from './upload-sessions.js';

/** One request as the route handlers see it. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  /** `http://<Host header>`: resource links and session URIs point back at this emulator. */
  baseUrl: string;
}

/** What the routes work on; built once per emulator in server.ts. */
export interface Services {
  layout: Layout;
  buckets: BucketStore;
  objects: ObjectStore;
  uploads: UploadSessions;
  faults: GcsFaultInjector;
}
