/**
 * The ingest benchmark's floor: a bare express endpoint that reads the same bodies as Strata
 * (`express.json` at ingest's default 1 MiB limit) and answers 202 `{accepted: n}`. No keys, no
 * validation, no Pub/Sub: what any express service pays to take a 100-event batch off the wire.
 * Run by ingest.ts as its own process (`node --import tsx`), configured by PORT.
 */
import { createServer } from 'node:http';
import express from 'express';

// eslint-disable-next-line no-restricted-properties
const port = Number(process.env.PORT ?? 0);

const app = express();
app.disable('x-powered-by');
app.post('/v1/events', express.json({ limit: '1mb' }), (req, res) => {
  const events: unknown = req.body;
  if (!Array.isArray(events)) {
    res.status(400).json({ error: 'bad_request', reason: 'body must be a JSON array of events' });
    return;
  }
  res.status(202).json({ accepted: events.length });
});
app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});

const server = createServer(app).listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
