export { createApp, type IngestDeps } from './app.js';
export { loadConfig, type IngestConfig } from './config.js';
