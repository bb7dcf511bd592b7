import express, { type Express } from 'express';
import { healthz, isObject, jsonErrors, notFound, requireOidc, sendError, traceFields, type Logger, type OidcVerifier } from '@strata/runtime';
import type { CuratorConfig } from './config.js';
import type { Curator } from './curate.js';
import { readUserId, type Eraser } from './erase.js';
import type { Replayer } from './replay.js';
import { readReplayRequest } from './replay-records.js';

export interface CuratorAppDeps {
  config: Pick<CuratorConfig, 'projectId'>;
  curator: Curator;
  eraser: Eraser;
  replayer: Replayer;
  /** Checks Cloud Scheduler's OIDC token. */
  verifier: OidcVerifier;
  logger: Logger;
}

/**
 * POST /run: one curation pass, called by Cloud Scheduler with an OIDC token. A pass starts no new
 * day after its budget (CURATOR_RUN_BUDGET_SECONDS, below the job's attempt deadline: 3 min by
 * default for HTTP targets); an interrupted pass loses nothing, since each day commits on its own.
 * `?scope=all` looks at all of history instead of the lateness window (after a backfill).
 *
 * 200 with the summary when every day it reached was curated and compacted; 500 with the summary
 * when some failed, so Scheduler retries and alerting on the job's failures fires.
 *
 * POST /erase `{"user_id": "…"}`: an erasure request (erase.ts), with the same token. 200 with the
 * report; 500 with it when something could not be erased or re-curated (run it again: an erasure
 * is idempotent); 400 for a body that names no user id.
 *
 * POST /replay `{"from": "quarantine" | "dead-letter", "logType"?, "since"?, "dryRun"?}`: republishes
 * the kept events that pass the registry now (replay.ts), with the same token, for a Scheduler job
 * after schema fixes. 200 with the report, events that still fail included (they wait for the
 * next fix); 500 with it when something could not be done (a publish refused, a marker not
 * written: run it again, event_id dedup makes that safe); 400 for a body that is not a request.
 */
export function createApp(deps: CuratorAppDeps): Express {
  const { config, curator, eraser, replayer, verifier, logger } = deps;
  const app = express();
  app.disable('x-powered-by');

  app.post('/run', requireOidc(verifier), async (req, res) => {
    const log = logger.child(traceFields(req.get('x-cloud-trace-context'), config.projectId));
    const scope = req.query.scope ?? 'window';
    if (scope !== 'window' && scope !== 'all') {
      sendError(res, 400, 'bad_scope', `scope must be "window" (the default) or "all", got ${JSON.stringify(scope)}`);
      return;
    }
    const summary = await curator.run(scope);
    if (summary.daysFailed > 0 || summary.compactionsFailed > 0) {
      log.error({ daysFailed: summary.daysFailed, compactionsFailed: summary.compactionsFailed }, 'curation run finished with failures');
      const reason = summary.daysFailed > 0
        ? `${summary.daysFailed} of ${summary.daysChanged} days could not be curated; they are retried next run`
        : `${summary.compactionsFailed} hours could not be compacted; they were curated uncompacted and are retried next run`;
      sendError(res, 500, summary.daysFailed > 0 ? 'days_failed' : 'compaction_failed', reason, { summary });
      return;
    }
    res.json(summary);
  });

  // The body is one short id: anything near the limit is not an erasure request.
  app.post('/erase', requireOidc(verifier), express.json({ limit: '4kb' }), async (req, res) => {
    const log = logger.child(traceFields(req.get('x-cloud-trace-context'), config.projectId));
    const body: unknown = req.body;
    const request = isObject(body) ? readUserId(body.user_id) : { ok: false as const, reason: 'the body must be a JSON object (Content-Type: application/json)' };
    if (!request.ok) {
      sendError(res, 400, 'invalid_request', `${request.reason}; send {"user_id": "<the id to erase>"}`);
      return;
    }
    const report = await eraser.erase(request.userId);
    if (report.failures.length > 0) {
      log.error({ failures: report.failures.length }, 'erasure finished with failures');
      sendError(res, 500, 'erasure_incomplete', `${report.failures.length} parts could not be erased or re-curated; run the erasure again`, { report });
      return;
    }
    res.json(report);
  });

  app.post('/replay', requireOidc(verifier), express.json({ limit: '4kb' }), async (req, res) => {
    const log = logger.child(traceFields(req.get('x-cloud-trace-context'), config.projectId));
    const body: unknown = req.body;
    const read = isObject(body) ? readReplayRequest(body) : { ok: false as const, reason: 'the body must be a JSON object (Content-Type: application/json)' };
    if (!read.ok) {
      sendError(res, 400, 'invalid_request', `${read.reason}; send {"from": "quarantine"} or {"from": "dead-letter"}, optionally with logType, since and dryRun`);
      return;
    }
    const report = await replayer.replay(read.request);
    if (report.errors.length > 0) {
      log.error({ errors: report.errors.length }, 'replay finished with errors');
      sendError(res, 500, 'replay_incomplete', `${report.errors.length} parts of the replay could not be done; run it again (replayed events are deduplicated by event_id)`, { report });
      return;
    }
    res.json(report);
  });

  app.get('/healthz', healthz());
  app.use(notFound('POST /run, POST /erase and POST /replay are the endpoints'));
  // Express 5 forwards rejected handlers here: a failed run answers 500 so the scheduler retries it.
  app.use(jsonErrors(logger, 'curation run'));
  return app;
}
