import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createOidcVerifier } from '@strata/runtime';
import { hostileTokens } from '@strata/dev/oidc-forgery';
import { createOidcIssuer, serveCerts, type ServedCerts } from '@strata/dev/oidc-issuer';
import { createApp } from './app.js';
import type { CurationSummary, Curator, RunScope } from './curate.js';
import type { Eraser, ErasureReport } from './erase.js';
import type { Replayer, ReplayReport } from './replay.js';

/**
 * Who may start a curation pass, an erasure or a replay: only Cloud Scheduler's OIDC token, checked against
 * certs served like googleapis.com/oauth2/v1/certs. Curation, erasure and replay are stand-ins here;
 * app.integration.test.ts runs the real ones.
 */
const audience = 'https://curator.strata.test/run';
const schedulerEmail = 'scheduler@strata-test.iam.gserviceaccount.com';
// At load, so each hostile token is a test of its own.
const issuer = await createOidcIssuer();
const hostile = await hostileTokens(issuer, { audience, email: schedulerEmail });

let certs: ServedCerts;
beforeAll(async () => {
  certs = await serveCerts(issuer);
});
afterAll(async () => {
  await certs.close();
});

function setup() {
  // What was started: curation passes by scope, erasures by user id, replays by zone.
  const runs: string[] = [];
  // Only what the app reads of a summary and a report.
  const curator: Curator = {
    async run(scope: RunScope = 'window') {
      runs.push(scope);
      return { scope, daysChanged: 0, daysFailed: 0, compactionsFailed: 0 } as CurationSummary;
    },
  };
  const eraser: Eraser = {
    async erase(userId) {
      runs.push(`erase ${userId}`);
      const report: Partial<ErasureReport> = { userId, failures: [] };
      return report as ErasureReport;
    },
  };
  const replayer: Replayer = {
    async replay(request) {
      runs.push(`replay ${request.from}`);
      const report: Partial<ReplayReport> = { from: request.from, errors: [] };
      return report as ReplayReport;
    },
  };
  const app = createApp({
    config: { projectId: 'strata-test' },
    curator,
    eraser,
    replayer,
    verifier: createOidcVerifier({ audience, serviceAccountEmail: schedulerEmail, certsUrl: certs.certsUrl }),
    logger: createLogger({ service: 'curator', level: 'silent' }),
  });
  return { app, runs };
}

describe.each([
  ['/run', {}, 'window'],
  ['/erase', { user_id: 'u-1' }, 'erase u-1'],
  ['/replay', { from: 'quarantine' }, 'replay quarantine'],
])('POST %s', (path, body, started) => {
  it('starts for Cloud Scheduler\'s token', async () => {
    const { app, runs } = setup();
    const res = await request(app).post(path).set('authorization', `Bearer ${await issuer.sign({ audience, email: schedulerEmail })}`).send(body);
    expect(res.status).toBe(200);
    expect(runs).toEqual([started]);
  });

  it.each(hostile)('answers 401 for $name, and starts nothing', async ({ authorization, reason }) => {
    const { app, runs } = setup();
    const req = request(app).post(path).send(body);
    const res = await (authorization === undefined ? req : req.set('authorization', authorization));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthenticated', reason: expect.stringMatching(reason) });
    // The reason says what failed; it does not echo the token (or its payload) back.
    expect(res.text).not.toMatch(/eyJ/);
    expect(runs).toEqual([]);
  });
});

describe('POST /replay', () => {
  it.each([
    [{ from: 'quarantine', log_type: 'user_action' }, /unknown field "log_type"/],
    [{ from: 'events' }, /from must be "quarantine" or "dead-letter"/],
    [{ from: 'dead-letter', since: 'yesterday' }, /since must be a day/],
  ])('answers 400 for %j, and starts nothing', async (body, reason) => {
    const { app, runs } = setup();
    const res = await request(app).post('/replay').set('authorization', `Bearer ${await issuer.sign({ audience, email: schedulerEmail })}`).send(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', reason: expect.stringMatching(reason) });
    expect(runs).toEqual([]);
  });
});

describe('GET /healthz', () => {
  it('needs no token and says only {"ok":true}', async () => {
    const { app, runs } = setup();
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"ok":true}');
    expect(runs).toEqual([]);
  });
});
