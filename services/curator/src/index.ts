export { createApp, type CuratorAppDeps } from './app.js';
export { loadConfig, type CuratorConfig } from './config.js';
export { createCurator, curatePass, type Curator, type CuratorDeps, type CurationSummary, type RunOutcome } from './curate.js';
export { createGcsLakeReader, createMemoryLake, type LakeObject, type LakeReader, type MemoryLake } from './lake-reader.js';
export { MIGRATIONS_DIR, MIGRATIONS_TABLE, migrate } from './migrate.js';
export { diffPartitions, fingerprintOf, groupByPartition, type ListedPartition, type PartitionChanges, type StoredPartition } from './partitions.js';
export { openDuckDbRollup, type EventCount, type Rollup, type RollupResult } from './rollup.js';
export { CURATOR_LOCK_KEY, createPgSummaryStore, type CurationSession, type LockedRun, type SummaryStore } from './summary-store.js';
export { wireCurator } from './wiring.js';
