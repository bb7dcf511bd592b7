// The PostgreSQL side of the contract (import '@strata/schemas/postgres'): the schema_registry
// table, the services' cached view of it, and publishing. Kept apart from the main entry so code
// that only validates or writes Parquet does not load a database client.
export * from './registry-table.js';
export * from './registry-source.js';
export * from './publish.js';
