export { createApp, type CuratorAppDeps } from './app.js';
export { loadConfig, type CuratorConfig } from './config.js';
export { createCurator, type Curator, type CuratorDeps, type CurationSettings, type CurationSummary, type RunScope } from './curate.js';
export { createEraser, type Eraser, type ErasureReport } from './erase.js';
export { createGcsLakeStore, type LakeObject, type LakeStore } from './lake-store.js';
export { MIGRATIONS_DIR, MIGRATIONS_TABLE, migrate } from './migrate.js';
export { openDuckDbEngine, type RollupEngine } from './rollup.js';
export { createPgSummaryStore, type SummaryStore } from './summary-store.js';
export { wireCurator } from './wiring.js';
