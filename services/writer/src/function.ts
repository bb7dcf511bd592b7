import { http } from '@google-cloud/functions-framework';
import { Storage } from '@google-cloud/storage';
import { createLogger } from '@strata/runtime';
import { buildWriterService } from './build-service.js';
import { loadConfig } from './config.js';

/**
 * Cloud Run functions entry: the same app, registered with the Functions Framework and built
 * from config on load. The framework owns the server and its shutdown, so buffers flush by
 * size and age only; a row lost with the instance was never acked, and Pub/Sub redelivers it.
 */
const config = loadConfig();
const logger = createLogger({ service: 'writer', level: config.logLevel });
const { app } = buildWriterService(config, { storage: new Storage(), logger });
http('writer', app);
