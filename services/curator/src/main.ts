import { createServer } from 'node:http';
import { closeServer, createLogger, createStop, listen, trapSignals } from '@strata/runtime';
import { loadConfig } from './config.js';
import { migrate } from './migrate.js';
import { wireCurator } from './wiring.js';

const config = loadConfig();
const logger = createLogger({ service: 'curator', level: config.logLevel });
// Schema first: a revision never serves with tables older than its code.
await migrate(config.databaseUrl, logger);
const { app, pool, replay } = wireCurator(config, logger);
const server = createServer(app);
const stop = createStop(logger, {
  // A run in progress finishes its current request; partitions it did not reach are redone next run.
  stopAccepting: closeServer(server),
  close: [() => pool.end(), () => replay.close()],
});
trapSignals(stop);
const port = await listen(server, config.port);
logger.info({ port, bucket: config.lakeBucket }, 'curator listening');
