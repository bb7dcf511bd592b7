import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { ackDeadlineSecondsFor, PUSH_DELIVERY } from '@strata/schemas';

/** Pub/Sub keeps unacknowledged messages at most 7 days: a dead letter the writer cannot file waits as long. */
export const MESSAGE_RETENTION = '604800s';

export interface BusArgs {
  project: string;
  projectNumber: pulumi.Input<string>;
  topicName: string;
  /** The writer's push endpoint (its URL + '/push'). */
  pushEndpoint: pulumi.Input<string>;
  /** The writer's dead-letter endpoint (its URL + '/dead-letter'), which files dead letters in the lake. */
  deadLetterEndpoint: pulumi.Input<string>;
  /** The `aud` of both push tokens: what the writer's PUSH_AUDIENCE holds. */
  pushAudience: pulumi.Input<string>;
  /** The push service account (its email signs the tokens; the writer's PUSH_SERVICE_ACCOUNT). */
  pushServiceAccount: { email: pulumi.Input<string>; name: pulumi.Input<string> };
  /** The writer's FLUSH_MAX_AGE_MS: the ack deadline is derived from it. */
  flushMaxAgeMs: number;
  /** Members that may publish events (ingest, and the curator for replay). */
  publishers: pulumi.Input<string>[];
  dependsOn: pulumi.Resource[];
}

/**
 * The events topic, its push subscription to the writer and the dead-letter path: a second push
 * subscription brings dead letters to the writer's /dead-letter, which files them in the lake's
 * dead-letter/ zone with their PII protected (a pull subscription would hold them raw for 7 days).
 * The delivery settings come from PUSH_DELIVERY (schemas/src/push-delivery.ts), the declaration
 * the local stack and the writer's own start-up check use too.
 */
export class Bus extends pulumi.ComponentResource {
  readonly topic: gcp.pubsub.Topic;
  readonly deadLetterTopic: gcp.pubsub.Topic;
  readonly pushSubscription: gcp.pubsub.Subscription;
  readonly deadLetterSubscription: gcp.pubsub.Subscription;
  readonly ackDeadlineSeconds: number;

  constructor(name: string, args: BusArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Bus', name, {}, opts);
    const child = { parent: this, dependsOn: args.dependsOn };
    this.ackDeadlineSeconds = ackDeadlineSecondsFor(args.flushMaxAgeMs);
    // Google's own agent moves dead letters and acks the originals on the subscription's behalf.
    // https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions
    const pubsubAgent = pulumi.interpolate`serviceAccount:service-${args.projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;

    this.topic = new gcp.pubsub.Topic('events', { project: args.project, name: args.topicName, messageRetentionDuration: MESSAGE_RETENTION }, child);
    this.deadLetterTopic = new gcp.pubsub.Topic('events-dead-letter', { project: args.project, name: `${args.topicName}-dead-letter` }, child);

    // Both subscriptions push to the writer alike: it holds a push until what it brought is in GCS
    // (up to the flush age plus the upload), with the push account's token, and backs off the same.
    const pushTo = (endpoint: pulumi.Input<string>) => ({
      ackDeadlineSeconds: this.ackDeadlineSeconds,
      messageRetentionDuration: MESSAGE_RETENTION,
      pushConfig: { pushEndpoint: endpoint, oidcToken: { serviceAccountEmail: args.pushServiceAccount.email, audience: args.pushAudience } },
      retryPolicy: { minimumBackoff: `${PUSH_DELIVERY.minimumBackoffSeconds}s`, maximumBackoff: `${PUSH_DELIVERY.maximumBackoffSeconds}s` },
      // The default expires a subscription after 31 days without deliveries: never, here.
      expirationPolicy: { ttl: '' },
    });

    this.pushSubscription = new gcp.pubsub.Subscription(
      'writer-push',
      {
        project: args.project,
        name: `${args.topicName}-writer-push`,
        topic: this.topic.id,
        ...pushTo(args.pushEndpoint),
        deadLetterPolicy: { deadLetterTopic: this.deadLetterTopic.id, maxDeliveryAttempts: PUSH_DELIVERY.maxDeliveryAttempts },
      },
      child,
    );

    // No dead-letter policy of its own: there is nowhere further to go, so a dead letter the writer
    // cannot file is retried with backoff for the 7 days of retention (and the writer's 5xx alert fires).
    // The name and resource name stay those of the pull subscription earlier releases made
    // (`…-dead-letter-replay`): turning it into a push subscription is then an update in place, and
    // the dead letters it already holds are pushed to the writer instead of deleted with it.
    this.deadLetterSubscription = new gcp.pubsub.Subscription(
      'dead-letter-replay',
      { project: args.project, name: `${args.topicName}-dead-letter-replay`, topic: this.deadLetterTopic.id, ...pushTo(args.deadLetterEndpoint) },
      child,
    );

    args.publishers.forEach((member, i) => {
      new gcp.pubsub.TopicIAMMember(`events-publisher-${i}`, { project: args.project, topic: this.topic.name, role: 'roles/pubsub.publisher', member }, child);
    });
    new gcp.pubsub.TopicIAMMember(
      'dead-letter-agent-publisher',
      { project: args.project, topic: this.deadLetterTopic.name, role: 'roles/pubsub.publisher', member: pubsubAgent },
      child,
    );
    new gcp.pubsub.SubscriptionIAMMember(
      'push-agent-subscriber',
      { project: args.project, subscription: this.pushSubscription.name, role: 'roles/pubsub.subscriber', member: pubsubAgent },
      child,
    );
    // The agent mints the push OIDC tokens as the push account. Projects made after 2021-04-08 grant
    // this implicitly; older ones need it, and here it is scoped to that one account, not the project.
    // https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
    new gcp.serviceaccount.IAMMember(
      'push-agent-token-creator',
      { serviceAccountId: args.pushServiceAccount.name, role: 'roles/iam.serviceAccountTokenCreator', member: pubsubAgent },
      child,
    );
    this.registerOutputs({ topic: this.topic.name, pushSubscription: this.pushSubscription.name, deadLetterSubscription: this.deadLetterSubscription.name });
  }
}
