import express, { type Express } from 'express';
import { healthz, isObject, jsonErrors, notFound, requireOidc, sendError, traceFields, type Logger, type OidcVerifier } from '@strata/runtime';
import type { CuratorConfig } from './config.js';
import type { Curator } from './curate.js';
import { readUserId, type Eraser } from './erase.js';

export interface CuratorAppDeps {
  config: Pick<CuratorConfig, 'projectId'>;
  curator: Curator;
  eraser: Eraser;
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
 */
export function createApp(deps: CuratorAppDeps): Express {
  const { config, curator, eraser, verifier, logger } = deps;
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

  app.get('/healthz', healthz());
  app.use(notFound('POST /run and POST /erase are the endpoints'));
  // Express 5 forwards rejected handlers here: a failed run answers 500 so the scheduler retries it.
  app.use(jsonErrors(logger, 'curation run'));
  return app;
}
