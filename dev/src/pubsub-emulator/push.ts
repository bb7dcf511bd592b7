import type { OidcIssuer } from '../oidc-issuer.js';
import type { PubsubFaults } from './faults.js';
import { wrappedPushBody } from './push-body.js';
import type { Consumer, Delivery, SubscriptionState } from './subscription.js';
import type { WirePushConfig } from './wire.js';

/**
 * Push delivery for one subscription: each leased message is POSTed to the push endpoint; these status
 * codes ack it, anything else, a network error or no answer within the ack deadline nacks it (and the
 * subscription's backoff applies). At most `maxConcurrentPushes` requests are in flight at once, the way
 * the service caps outstanding pushes. With pushConfig.oidcToken the request carries
 * `Authorization: Bearer <jwt>` for oidcToken.audience, or the endpoint URL when no audience is set.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 */
export const PUSH_ACK_STATUSES: ReadonlySet<number> = new Set([102, 200, 201, 202, 204]);
// What Pub/Sub identifies itself as on push requests.
const USER_AGENT = 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)';
const TOKEN_TTL_SECONDS = 3600;
// Reuse a token until ten minutes before it expires, as a token cache in the service would.
const TOKEN_REUSE_MS = (TOKEN_TTL_SECONDS - 600) * 1000;

export interface PushDeps {
  issuer: OidcIssuer;
  maxConcurrentPushes: number;
  /** Told about each failed push (the message is redelivered regardless). */
  onFailure?: (subscription: string, reason: string) => void;
  /** Injected faults (chaos tests): some pushes have their connection cut. */
  faults?: Pick<PubsubFaults, 'pushDropAfterMs'>;
}

export interface PushConsumer extends Consumer {
  close(): void;
}

function createTokenCache(issuer: OidcIssuer) {
  const tokens = new Map<string, { token: string; reuseUntil: number }>();
  return async (audience: string, email: string): Promise<string> => {
    const key = `${audience}\n${email}`;
    const cached = tokens.get(key);
    if (cached && cached.reuseUntil > Date.now()) return cached.token;
    const token = await issuer.sign({ audience, email, ttlSeconds: TOKEN_TTL_SECONDS });
    tokens.set(key, { token, reuseUntil: Date.now() + TOKEN_REUSE_MS });
    return token;
  };
}

export function createPushConsumer(state: SubscriptionState, pushConfig: () => WirePushConfig, deps: PushDeps): PushConsumer {
  const inFlight = new Set<AbortController>();
  const tokenFor = createTokenCache(deps.issuer);
  let closed = false;

  async function headersFor(config: WirePushConfig, endpoint: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': USER_AGENT };
    const oidc = config.oidcToken;
    if (oidc?.serviceAccountEmail) {
      headers.authorization = `Bearer ${await tokenFor(oidc.audience || endpoint, oidc.serviceAccountEmail)}`;
    }
    return headers;
  }

  async function post(delivery: Delivery): Promise<string | undefined> {
    const config = pushConfig();
    const endpoint = config.pushEndpoint;
    if (!endpoint) return 'push endpoint removed';
    const settings = state.settings();
    const reportedAttempt = settings.deadLetter ? delivery.deliveryAttempt : undefined;
    const controller = new AbortController();
    inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error('no response within the ack deadline')), settings.ackDeadlineMs);
    const dropAfterMs = deps.faults?.pushDropAfterMs();
    const drop = dropAfterMs === undefined ? undefined : setTimeout(() => controller.abort(new Error('push connection dropped (injected fault)')), dropAfterMs);
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: await headersFor(config, endpoint),
        body: JSON.stringify(wrappedPushBody(settings.name, delivery.message, reportedAttempt)),
        signal: controller.signal,
      });
      await response.arrayBuffer();
      return PUSH_ACK_STATUSES.has(response.status) ? undefined : `status ${response.status}`;
    } catch (err) {
      return (err as Error).message;
    } finally {
      clearTimeout(timer);
      clearTimeout(drop);
      inFlight.delete(controller);
    }
  }

  async function push(delivery: Delivery): Promise<void> {
    const failure = await post(delivery);
    if (closed) return;
    if (failure === undefined) {
      state.ack([delivery.ackId]);
      return;
    }
    deps.onFailure?.(state.settings().name, failure);
    state.nack(delivery.ackId);
  }

  return {
    mode: 'push',
    maxOutstandingMessages: () => deps.maxConcurrentPushes,
    maxOutstandingBytes: () => 0,
    leaseMs: () => state.settings().ackDeadlineMs,
    deliver(deliveries) {
      for (const delivery of deliveries) void push(delivery);
    },
    close() {
      closed = true;
      for (const controller of inFlight) controller.abort(new Error('push subscription closed'));
    },
  };
}
