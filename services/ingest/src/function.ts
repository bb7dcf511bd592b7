import { http } from '@google-cloud/functions-framework';
import { createLogger } from '@strata/runtime';
import { loadConfig } from './config.js';
import { wireIngest } from './wiring.js';

// Entry point for `functions-framework --target=ingest`: the same app, built from the same config.
const config = loadConfig();
http('ingest', wireIngest(config, createLogger({ service: 'ingest', level: config.logLevel })).app);
