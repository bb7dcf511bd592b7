import { http } from '@google-cloud/functions-framework';
import { createLogger } from '@strata/runtime';
import { loadConfig } from './config.js';
import { wireWriter } from './wiring.js';

/**
 * Cloud Run functions entry: the same app, registered with the Functions Framework and built
 * from config on load. The framework owns the server and its shutdown, so buffers flush by
 * size, age and quiet only; a row lost with the instance was never acked, and Pub/Sub redelivers it.
 */
const config = loadConfig();
const logger = createLogger({ service: 'writer', level: config.logLevel });
http('writer', wireWriter(config, logger).app);
