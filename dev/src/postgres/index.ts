export { POSTGRES_LIB_DIR, THROWAWAY_DATABASE, findPostgresBinDir, startThrowawayPostgres, type RunningPostgres } from './throwaway.js';
export { PGLITE_POOL_MAX, startPgliteServer, type PgliteServerOptions, type RunningPglite } from './pglite-server.js';
export { assertTestDatabase, databaseNameOf, resetTestDatabase, testDatabase, type TestDatabase } from './test-database.js';
