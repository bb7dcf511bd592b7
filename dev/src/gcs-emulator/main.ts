/**
 * Runs the GCS emulator on its own:
 *   tsx dev/src/gcs-emulator/main.ts --root .strata/gcs --port 9023
 * then point clients at it with STORAGE_EMULATOR_HOST=http://127.0.0.1:9023.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@strata/runtime';
import { startGcsEmulator } from './server.js';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: '.strata/gcs' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9023' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`--port must be a port number, got ${values.port}\n`);
  process.exit(2);
}
const logger = createLogger({ service: 'gcs-emulator', level: process.env.LOG_LEVEL ?? 'info' });
const emulator = await startGcsEmulator({ root: values.root, host: values.host, port, logger });
logger.info({ url: emulator.url, root: emulator.root }, `gcs emulator listening; STORAGE_EMULATOR_HOST=${emulator.url}`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  emulator.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'stop failed');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
