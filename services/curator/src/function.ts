import { http } from '@google-cloud/functions-framework';
import { createLogger, sendError } from '@strata/runtime';
import { loadConfig } from './config.js';
import { migrate } from './migrate.js';
import { wireCurator } from './wiring.js';

// Entry point for `functions-framework --target=curator`: the same app, built from the same config.
// A function cannot await before registering, so the first request waits for the migrations.
const config = loadConfig();
const logger = createLogger({ service: 'curator', level: config.logLevel });
const { app } = wireCurator(config, logger);
let migrated: Promise<unknown> | undefined;
http('curator', (req, res) => {
  migrated ??= migrate(config.databaseUrl, logger).catch((err: unknown) => {
    migrated = undefined; // let the next request try again
    throw err;
  });
  migrated.then(
    () => app(req, res),
    (err: unknown) => {
      logger.error({ err }, 'migrations failed');
      sendError(res, 503, 'unavailable', 'database migrations failed; see the logs');
    },
  );
});
