import { beforeAll, describe, expect, it } from 'vitest';
import { CuratorSchedule, curatorTimings } from './scheduler.js';
import { setRecordingMocks, valueOf, type Recorded } from '../pulumi-mocks.fake.js';

describe('curatorTimings', () => {
  it('gives Scheduler 180 s for the default 150 s budget, and the function time to finish its day', () => {
    expect(curatorTimings(150)).toEqual({ runBudgetSeconds: 150, attemptDeadlineSeconds: 180, functionTimeoutSeconds: 300 });
  });
  it('refuses a budget Scheduler cannot wait for', () => {
    expect(() => curatorTimings(1790)).toThrow(/30 min/);
  });
});

describe('CuratorSchedule', () => {
  let created: Recorded[];
  beforeAll(async () => {
    created = await setRecordingMocks();
    const schedule = new CuratorSchedule('s', {
      project: 'strata-test',
      region: 'europe-west4',
      schedule: '*/5 * * * *',
      runUrl: 'https://c.example/run',
      audience: 'https://c.example/run',
      serviceAccountEmail: 'scheduler@x',
      attemptDeadlineSeconds: 180,
      replay: { schedule: '17 * * * *', url: 'https://c.example/replay' },
      dependsOn: [],
    });
    await valueOf(schedule.job.name);
    await valueOf(schedule.replayJob!.name);
  });

  it('POSTs /run every 5 minutes with an OIDC token, a 180 s deadline and retries', () => {
    expect(created.find((r) => r.type === 'gcp:cloudscheduler/job:Job')!.inputs).toMatchObject({
      schedule: '*/5 * * * *',
      timeZone: 'Etc/UTC',
      attemptDeadline: '180s',
      retryConfig: { retryCount: 2 },
      httpTarget: { httpMethod: 'POST', uri: 'https://c.example/run', oidcToken: { serviceAccountEmail: 'scheduler@x', audience: 'https://c.example/run' } },
    });
  });

  it('POSTs /replay {"from":"quarantine"} hourly with the same token, when asked', () => {
    const job = created.find((r) => r.type === 'gcp:cloudscheduler/job:Job' && r.inputs.name === 'strata-curator-replay')!;
    expect(job.inputs).toMatchObject({
      schedule: '17 * * * *',
      httpTarget: { httpMethod: 'POST', uri: 'https://c.example/replay', headers: { 'Content-Type': 'application/json' }, oidcToken: { serviceAccountEmail: 'scheduler@x', audience: 'https://c.example/run' } },
    });
    expect(JSON.parse(Buffer.from(String((job.inputs.httpTarget as { body: string }).body), 'base64').toString())).toEqual({ from: 'quarantine' });
  });
});
