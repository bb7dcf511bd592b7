// What other packages use of the writer: its app and wiring, config, and the pieces the local stack's tests build on.
export { createApp, type AppDeps } from './app.js';
export { wireWriter, type WriterWiring } from './wiring.js';
export { loadConfig, type WriterConfig } from './config.js';
export { createLakeWriter, type LakeWriter } from './lake-writer.js';
export { encodeParquet, PARQUET_CONTENT_TYPE } from './parquet.js';
