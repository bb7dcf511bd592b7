import express, { type Express } from 'express';
import { healthz, jsonErrors, notFound, requireOidc, sendError, traceFields, type Logger, type OidcVerifier } from '@strata/runtime';
import type { CuratorConfig } from './config.js';
import type { Curator } from './curate.js';

export interface CuratorAppDeps {
  config: Pick<CuratorConfig, 'projectId'>;
  curator: Curator;
  /** Checks Cloud Scheduler's OIDC token. */
  verifier: OidcVerifier;
  logger: Logger;
}

/**
 * POST /run: one curation pass, called by Cloud Scheduler with an OIDC token. A pass must finish
 * within the job's attempt deadline (HTTP targets: 3 min by default, 30 min at most) and Cloud Run's
 * request timeout; an interrupted pass loses nothing, since each partition commits on its own.
 */
export function createApp(deps: CuratorAppDeps): Express {
  const { config, curator, verifier, logger } = deps;
  const app = express();
  app.disable('x-powered-by');

  app.post('/run', requireOidc(verifier), async (req, res) => {
    const log = logger.child(traceFields(req.get('x-cloud-trace-context'), config.projectId));
    const outcome = await curator.run();
    if (!outcome.ran) {
      log.info({ reason: outcome.reason }, 'curation run skipped');
      // 409, not 5xx: the scheduler should not retry, the run in progress covers this one.
      sendError(res, 409, 'run_in_progress', outcome.reason);
      return;
    }
    res.json(outcome.summary);
  });

  app.get('/healthz', healthz());
  app.use(notFound('POST /run is the only endpoint'));
  // Express 5 forwards rejected handlers here: a failed run answers 500 so the scheduler retries it.
  app.use(jsonErrors(logger, 'curation run'));
  return app;
}
