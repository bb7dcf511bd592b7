import { bundleService, DEFAULT_OUT_DIR } from './bundle/bundle-service.js';
import { loadStrataConfig } from './config.js';
import type { ServiceBundle, ServiceName } from './components/services.js';
import { createStrata } from './strata.js';

/**
 * `pulumi up`: validate the config before anything else, bundle the three services into zips
 * (infra/bundle), then declare the stack (strata.ts composes the components).
 */
const config = loadStrataConfig();
const bundle = (service: ServiceName): Promise<ServiceBundle> => bundleService(service, DEFAULT_OUT_DIR);
const [ingest, writer, curator] = await Promise.all([bundle('ingest'), bundle('writer'), bundle('curator')]);
const strata = createStrata(config, { ingest, writer, curator });

export const lakeBucketName = strata.lake.bucketName;
export const topicName = strata.bus.topic.name;
export const deadLetterSubscription = strata.bus.deadLetterSubscription.name;
export const ingestUrl = strata.services.urls.ingest;
export const writerUrl = strata.services.urls.writer;
export const curatorUrl = strata.services.urls.curator;
export const databaseConnectionName = strata.database.instance.connectionName;
export const serviceAccounts = strata.ids.emails;
