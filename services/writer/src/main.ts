import { createServer } from 'node:http';
import { Storage } from '@google-cloud/storage';
import { closeServer, createLogger, createStop, listen, trapSignals } from '@strata/runtime';
import { buildWriterService } from './build-service.js';
import { loadConfig } from './config.js';

// Cloud Run entry: load config (fails fast naming the variable), build clients, listen.
const config = loadConfig();
const logger = createLogger({ service: 'writer', level: config.logLevel });
// Finds the project itself and honours STORAGE_EMULATOR_HOST, so the local stack needs no branch here.
const storage = new Storage();
const { app, writer, registry } = buildWriterService(config, { storage, logger });
const server = createServer(app);

const stop = createStop(logger, {
  // server.close() waits for in-flight pushes, and each push waits for its batch's flush: start
  // draining the buffers at the same time rather than after, or stopping would wait out FLUSH_MAX_AGE_MS.
  stopAccepting: async () => {
    const closed = closeServer(server)();
    await writer.flushAll();
    // The pushes just answered leave keep-alive sockets behind that close() would otherwise
    // wait on until they time out; close them once the responses have gone out.
    await new Promise((resolve) => setImmediate(resolve));
    server.closeIdleConnections();
    await closed;
  },
  // Flush whatever is left before exit; Cloud Run allows about 10 s after SIGTERM. Failed rows
  // were answered 503 and come back by redelivery, but the exit code should say it happened.
  flush: async () => {
    const { failed } = await writer.flushAll();
    if (failed > 0) throw new Error(`${failed} batch(es) failed to flush during shutdown`);
  },
  // After the last flush: the registry's pool is only needed while pushes are admitted.
  close: [() => registry.close()],
});
trapSignals(stop);

const port = await listen(server, config.port);
logger.info({ port, bucket: config.lakeBucket }, 'writer listening');
