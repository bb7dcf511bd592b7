import { createServer } from 'node:http';
import { closeServer, createLogger, createStop, listen, trapSignals } from '@strata/runtime';
import { loadConfig } from './config.js';
import { wireWriter } from './wiring.js';

// Cloud Run entry: load config (fails fast naming the variable), build clients, listen.
const config = loadConfig();
const logger = createLogger({ service: 'writer', level: config.logLevel });
const { app, writer, registry, beginStopping } = wireWriter(config, logger);
const server = createServer(app);

let failedBatches = 0;
const stop = createStop(logger, {
  // Cloud Run allows about 10 s after SIGTERM. New pushes are refused at once (Pub/Sub keeps them);
  // what is held is flushed now rather than after FLUSH_MAX_AGE_MS, and its pushes are answered.
  stopAccepting: async () => {
    beginStopping();
    const closed = closeServer(server)();
    failedBatches += (await writer.flushAll()).failed;
    // closeServer drops the keep-alive sockets the answered pushes leave behind as they go idle.
    await closed;
  },
  // Whatever was admitted while the server closed. Failed rows were answered 503 and come back by
  // redelivery, but the exit code should say it happened.
  flush: async () => {
    failedBatches += (await writer.flushAll()).failed;
    if (failedBatches > 0) throw new Error(`${failedBatches} batch(es) failed to flush during shutdown`);
  },
  // After the last flush: the registry's pool is only needed while pushes are admitted.
  close: [() => registry.close()],
});
trapSignals(stop);

const port = await listen(server, config.port);
logger.info({ port, bucket: config.lakeBucket, ackDeadlineSeconds: config.pushAckDeadlineSeconds, flushMaxAgeMs: config.flushMaxAgeMs }, 'writer listening');
