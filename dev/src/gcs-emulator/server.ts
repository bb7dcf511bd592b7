import { createServer } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { closeServer, listen, type Logger } from '@strata/runtime';
import { createBucketStore } from './bucket-store.js';
import { createGcsFaultInjector, type GcsFaultInjector } from './faults.js';
import { createKeyedLock } from './keyed-lock.js';
import { createLayout } from './layout.js';
import { createObjectStore } from './object-store.js';
import { createRouter } from './router.js';
import { createUploadSessions } from './upload-sessions.js';

export interface GcsEmulatorOptions {
  /** Folder holding one sub-folder per bucket (plus `.meta`, `.tmp`, `.uploads`). */
  root: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Unexpected failures (500s) are logged here when given. */
  logger?: Logger;
}

export interface GcsEmulator {
  /** `http://127.0.0.1:PORT`: pass as `apiEndpoint`, or as `STORAGE_EMULATOR_HOST` (with the scheme). */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  root: string;
  /** Fault injection, in process; tests in other processes use `setGcsFaults(url, …)`. */
  faults: Pick<GcsFaultInjector, 'state' | 'set' | 'clear'>;
  stop(): Promise<void>;
}

/**
 * A disk-backed emulator of the Cloud Storage JSON API subset @google-cloud/storage uses.
 * Objects are plain files at `<root>/<bucket>/<name>`, so DuckDB can read a bucket folder as a
 * local lake; metadata sits in `<root>/.meta`. State survives restarts except for unfinished
 * resumable uploads.
 */
export async function startGcsEmulator(options: GcsEmulatorOptions): Promise<GcsEmulator> {
  const root = resolve(options.root);
  const layout = createLayout(root);
  await mkdir(root, { recursive: true });
  // Leftovers of an earlier run (unfinished temp files and sessions) are garbage now.
  for (const dir of [layout.tmpDir, layout.uploadsDir]) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  }
  for (const base of [dirname(layout.bucketMetaPath('x')), dirname(layout.objectMetaDir('x'))]) {
    await mkdir(base, { recursive: true });
  }
  const lock = createKeyedLock();
  const objects = createObjectStore({ layout, lock });
  const faults = createGcsFaultInjector();
  const services = {
    faults,
    layout,
    objects,
    buckets: createBucketStore({ layout }),
    uploads: createUploadSessions({ layout, store: objects, lock }),
  };
  const handle = createRouter(services, options.logger);
  const server = createServer((req, res) => void handle(req, res));
  const bindHost = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, bindHost);
  const host = `${bindHost}:${port}`;
  const close = closeServer(server);
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}`,
    host,
    port,
    root,
    faults: { state: faults.state, set: faults.set, clear: faults.clear },
    stop() {
      stopping ??= (async () => {
        // Held and delayed requests first: a delay must not route a request once storage is going away.
        faults.close();
        const closed = close();
        // A client that hung up mid-upload must not hold the stop open.
        server.closeAllConnections();
        await closed;
      })();
      return stopping;
    },
  };
}
