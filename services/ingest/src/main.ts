import { createServer } from 'node:http';
import { closeServer, createLogger, createStop, listen, trapSignals } from '@strata/runtime';
import { loadConfig } from './config.js';
import { applyServerTimeouts } from './server-timeouts.js';
import { wireIngest } from './wiring.js';

const config = loadConfig();
const logger = createLogger({ service: 'ingest', level: config.logLevel });
const { app, pubsub, topic, registry, pool, beginStopping } = wireIngest(config, logger);
const server = createServer(app);
// Before listen: a client that announces a body and stalls gets 408 instead of holding the connection.
const timeouts = applyServerTimeouts(server);
const stop = createStop(logger, {
  // Requests already in flight are answered (each only after its events are durable); new ones,
  // even on kept-alive connections, get 503 so the stop is bounded.
  stopAccepting: () => {
    beginStopping();
    return closeServer(server)();
  },
  // Anything still batched in the client is published before we exit.
  flush: () => topic.flush(),
  close: [() => pubsub.close(), () => registry.close(), async () => pool?.close()],
});
trapSignals(stop);
// A prepare worker that cannot start fails the start, not every request.
await pool?.ready;
const port = await listen(server, config.port);
logger.info({ port, topic: config.topic, timeouts }, 'ingest listening');
