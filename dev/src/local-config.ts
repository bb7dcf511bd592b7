import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The names the local stack gives the cloud resources that `pulumi up` creates in a real project.
 * Kept in one place so `npm start`, `npm run query` and the tests agree.
 */
export const LOCAL = {
  projectId: 'strata-local',
  topic: 'strata-events',
  pushSubscription: 'strata-events-writer',
  deadLetterTopic: 'strata-events-dead-letter',
  // Dead-lettered messages are held here so nothing is lost locally either.
  deadLetterSubscription: 'strata-events-dead-letter-hold',
  bucket: 'strata-lake',
  apiKey: 'dev-key',
  piiHashSecret: 'local-only-pii-secret-not-for-production',
  pushServiceAccount: 'pubsub-push@strata-local.iam.gserviceaccount.com',
  schedulerServiceAccount: 'scheduler@strata-local.iam.gserviceaccount.com',
} as const;

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Everything the local stack writes lives under `.strata/` (git-ignored). */
export const defaultDataDir = join(repoRoot, '.strata');

export const lakeDir = (dataDir: string) => join(dataDir, 'gcs', LOCAL.bucket);
