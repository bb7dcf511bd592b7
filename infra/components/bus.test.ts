import { ackDeadlineSecondsFor, PUSH_DELIVERY } from '@strata/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { setRecordingMocks, valueOf, type Recorded } from '../pulumi-mocks.fake.js';

describe('Bus', () => {
  let created: Recorded[];
  const agent = 'serviceAccount:service-42@gcp-sa-pubsub.iam.gserviceaccount.com';
  beforeAll(async () => {
    created = await setRecordingMocks();
    const bus = new Bus('bus', {
      project: 'strata-test',
      projectNumber: '42',
      topicName: 'strata-events',
      pushEndpoint: 'https://w.example/push',
      deadLetterEndpoint: 'https://w.example/dead-letter',
      pushAudience: 'https://w.example/push',
      pushServiceAccount: { email: 'push@x', name: 'projects/p/serviceAccounts/push@x' },
      flushMaxAgeMs: PUSH_DELIVERY.flushMaxAgeMs,
      publishers: ['serviceAccount:ingest@x'],
      dependsOn: [],
    });
    await valueOf(bus.deadLetterSubscription.name);
    await new Promise((r) => setTimeout(r, 50));
  });
  const sub = (name: string) => created.find((r) => r.type === 'gcp:pubsub/subscription:Subscription' && r.inputs.name === name)!.inputs;

  it('pushes to the writer with an OIDC token and PUSH_DELIVERY’s deadline, backoff and dead-lettering', () => {
    expect(sub('strata-events-writer-push')).toMatchObject({
      ackDeadlineSeconds: ackDeadlineSecondsFor(PUSH_DELIVERY.flushMaxAgeMs),
      pushConfig: { pushEndpoint: 'https://w.example/push', oidcToken: { serviceAccountEmail: 'push@x', audience: 'https://w.example/push' } },
      retryPolicy: { minimumBackoff: '1s', maximumBackoff: '60s' },
      deadLetterPolicy: { deadLetterTopic: 'strata-events-dead-letter', maxDeliveryAttempts: PUSH_DELIVERY.maxDeliveryAttempts },
      expirationPolicy: { ttl: '' },
    });
    expect(ackDeadlineSecondsFor(PUSH_DELIVERY.flushMaxAgeMs)).toBe(25);
  });

  it('pushes dead letters to the writer\'s /dead-letter with the same token, deadline and backoff, keeping them 7 days while it cannot file them', () => {
    expect(sub('strata-events-dead-letter-replay')).toMatchObject({
      topic: 'strata-events-dead-letter',
      ackDeadlineSeconds: ackDeadlineSecondsFor(PUSH_DELIVERY.flushMaxAgeMs),
      pushConfig: { pushEndpoint: 'https://w.example/dead-letter', oidcToken: { serviceAccountEmail: 'push@x', audience: 'https://w.example/push' } },
      retryPolicy: { minimumBackoff: '1s', maximumBackoff: '60s' },
      messageRetentionDuration: '604800s',
      expirationPolicy: { ttl: '' },
    });
    // Nowhere further to go: retried until the writer files it.
    expect(sub('strata-events-dead-letter-replay').deadLetterPolicy).toBeUndefined();
    // The resource and subscription names of the pull subscription earlier releases made: an
    // upgrade updates it in place, and the dead letters it holds are pushed, not deleted.
    expect(created.find((r) => r.inputs.name === 'strata-events-dead-letter-replay')!.name).toBe('dead-letter-replay');
    expect(created.filter((r) => r.type === 'gcp:pubsub/subscription:Subscription').map((r) => r.inputs.name).sort()).toEqual(['strata-events-dead-letter-replay', 'strata-events-writer-push']);
  });

  it('grants the Pub/Sub agent what dead-lettering and push tokens need, and ingest publish only', () => {
    const grants = created.filter((r) => /IAMMember$/i.test(r.type)).map((r) => [r.inputs.topic ?? r.inputs.subscription ?? r.inputs.serviceAccountId, r.inputs.role, r.inputs.member].join(' '));
    expect(grants.sort()).toEqual(
      [
      ['strata-events', 'roles/pubsub.publisher', 'serviceAccount:ingest@x'],
      ['strata-events-dead-letter', 'roles/pubsub.publisher', agent],
      ['strata-events-writer-push', 'roles/pubsub.subscriber', agent],
      ['projects/p/serviceAccounts/push@x', 'roles/iam.serviceAccountTokenCreator', agent],
      ]
        .map((g) => g.join(' '))
        .sort(),
    );
  });
});
