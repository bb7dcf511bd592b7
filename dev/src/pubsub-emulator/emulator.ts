import { Server, ServerCredentials } from '@grpc/grpc-js';
import { createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from '../oidc-issuer.js';
import { createBroker, type Persistence } from './broker.js';
import { createPubsubFaults, type PubsubFaults } from './faults.js';
import { openJournal } from './journal.js';
import { loadPubsubServices } from './proto.js';
import { publisherService, subscriberService } from './service.js';
import type { SubscriptionStats } from './subscription.js';

/**
 * A Pub/Sub for local runs and tests, in memory or durable (`dataDir`), spoken to by the real @google-cloud/pubsub client
 * (`PUBSUB_EMULATOR_HOST=<address>` or `new PubSub({ apiEndpoint: address })`, insecure channel).
 * Unlike Google's emulator it signs push requests with OIDC tokens (from `issuer`, whose certs are
 * served at `certsUrl`), so services verify them exactly as they verify Google's in the cloud.
 */
export interface PubsubEmulatorOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Signs push tokens; a fresh one by default. */
  issuer?: OidcIssuer;
  /** The HTTP port serving the issuer's certs; 0 (default) picks a free one. */
  certsPort?: number;
  /** In-flight push requests per subscription. The service has no fixed number; 1000 keeps tests finite. */
  maxConcurrentPushes?: number;
  /** How long a Pull without returnImmediately waits for messages before answering empty. */
  pullWaitMs?: number;
  /** Told about each failed push (it is retried regardless). */
  onPushFailure?: (subscription: string, reason: string) => void;
  /**
   * Keep topics, subscriptions and every unacknowledged message in a journal in this folder, so a
   * restart (or a kill -9) resumes delivery of everything published (journal.ts). In memory when absent.
   */
  dataDir?: string;
  /** Push nothing until resumePushes(), e.g. until the push endpoints of a restored journal are up. */
  pushPaused?: boolean;
}

export interface PubsubEmulator {
  host: string;
  port: number;
  /** host:port, the value for PUBSUB_EMULATOR_HOST. */
  address: string;
  /** http URL of the issuer's PEM certs (Google's /oauth2/v1/certs shape), for createOidcVerifier. */
  certsUrl: string;
  issuer: OidcIssuer;
  /** Faults to inject while running (chaos tests); also at `<certs server>/_strata/faults`. */
  faults: PubsubFaults;
  resumePushes(): void;
  /** The folder of the journal, when durable. */
  dataDir: string | undefined;
  /**
   * What one subscription (full name, `projects/p/subscriptions/s`) still holds: ready, delayed for
   * a retry, and leased to a consumer but not yet acked. For the process hosting the emulator (the
   * local stack drains on it before stopping); undefined when there is no such subscription.
   */
  backlog(subscription: string): SubscriptionStats | undefined;
  stop(): Promise<void>;
}

export const DEFAULT_MAX_CONCURRENT_PUSHES = 1000;
const DEFAULT_PULL_WAIT_MS = 30_000;

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

export async function startPubsubEmulator(options: PubsubEmulatorOptions = {}): Promise<PubsubEmulator> {
  const host = options.host ?? '127.0.0.1';
  const issuer = options.issuer ?? (await createOidcIssuer());
  const faults = createPubsubFaults();
  let persistence: Persistence | undefined;
  if (options.dataDir) {
    const opened = openJournal(options.dataDir);
    persistence = { journal: opened.journal, restored: opened.restored, lastMessageId: opened.lastMessageId };
  }
  const broker = createBroker(
    {
      issuer,
      maxConcurrentPushes: options.maxConcurrentPushes ?? DEFAULT_MAX_CONCURRENT_PUSHES,
      onFailure: options.onPushFailure,
      faults,
      pushPaused: options.pushPaused,
    },
    persistence,
  );
  const services = await loadPubsubServices();
  const server = new Server();
  server.addService(services.publisher, publisherService(broker));
  server.addService(services.subscriber, subscriberService(broker, { pullWaitMs: options.pullWaitMs ?? DEFAULT_PULL_WAIT_MS }));
  let port: number;
  let certs: ServedCerts;
  try {
    port = await bind(server, `${host}:${options.port ?? 0}`);
    certs = await serveCerts(issuer, { host, port: options.certsPort ?? 0, routes: faults.handle });
  } catch (err) {
    server.forceShutdown();
    broker.close();
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    address: `${host}:${port}`,
    certsUrl: certs.certsUrl,
    issuer,
    faults,
    resumePushes: () => broker.subscriptions.resumePushes(),
    dataDir: options.dataDir,
    backlog(subscription) {
      const state = broker.subscriptions.state(subscription);
      return state.ok ? state.value.stats() : undefined;
    },
    stop() {
      stopped ??= (async () => {
        // Open StreamingPull calls would hold a graceful shutdown forever. Cancelling them first makes
        // clients see UNAVAILABLE (retryable) rather than the NOT_FOUND a deleted subscription gives.
        server.forceShutdown();
        broker.close();
        await certs.close();
      })();
      return stopped;
    },
  };
}
