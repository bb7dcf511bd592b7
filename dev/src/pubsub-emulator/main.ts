import { parseArgs } from 'node:util';
import { startPubsubEmulator } from './emulator.js';

/**
 * `tsx dev/src/pubsub-emulator/main.ts --port 8085 [--data-dir DIR]`: runs the emulator until SIGINT/SIGTERM and prints
 * the address to export as PUBSUB_EMULATOR_HOST and the certs URL push receivers verify tokens with.
 */
const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8085' },
    'certs-port': { type: 'string', default: '0' },
    // Durable: topics, subscriptions and unacked messages survive a restart (journal.ts).
    'data-dir': { type: 'string' },
  },
});

const emulator = await startPubsubEmulator({
  host: values.host,
  port: Number(values.port),
  certsPort: Number(values['certs-port']),
  dataDir: values['data-dir'],
  onPushFailure: (subscription, reason) => console.warn(`push for ${subscription} failed: ${reason}`),
});
console.log(`Pub/Sub emulator listening on ${emulator.address}`);
console.log(`export PUBSUB_EMULATOR_HOST=${emulator.address}`);
console.log(`OIDC certs (push tokens): ${emulator.certsUrl}`);
console.log(emulator.dataDir ? `Durable: state kept in ${emulator.dataDir}` : 'In memory: state is gone when it stops (--data-dir keeps it)');

const stop = () => {
  emulator.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
