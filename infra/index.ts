import * as gcp from '@pulumi/gcp';
import { loadStrataConfig } from './config.js';

/**
 * The first resources of the Strata stack: the lake bucket and the event topics. Cloud Run
 * services, push subscription, BigQuery and Cloud SQL follow in the infrastructure issue.
 */
const config = loadStrataConfig();

export const lake = new gcp.storage.Bucket('lake', {
  name: config.lakeBucketName,
  location: config.region,
  uniformBucketLevelAccess: true,
  // Secure by default: the lake is never public.
  publicAccessPrevention: 'enforced',
  versioning: { enabled: false },
});

export const eventsTopic = new gcp.pubsub.Topic('events', { name: 'strata-events' });
export const deadLetterTopic = new gcp.pubsub.Topic('events-dead-letter', { name: 'strata-events-dead-letter' });

export const lakeBucketUrl = lake.url;
export const topicName = eventsTopic.name;
