import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';

/**
 * The curator's time limits, derived in one place from its run budget (CURATOR_RUN_BUDGET_SECONDS,
 * which the curator gets explicitly): a run starts no new day after the budget, and the day in
 * progress may take a while longer, so Scheduler waits budget + 30 s for the answer (180 s at the
 * default 150, Scheduler's own default), and the function may run past that to finish the day it
 * is writing rather than be killed in its transaction.
 * https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job.FIELDS.attempt_deadline
 */
export function curatorTimings(runBudgetSeconds: number): { runBudgetSeconds: number; attemptDeadlineSeconds: number; functionTimeoutSeconds: number } {
  const attemptDeadlineSeconds = runBudgetSeconds + 30;
  // Scheduler allows 15 s – 30 min for an HTTP target; a gen2 HTTP function up to 60 min.
  if (attemptDeadlineSeconds > 1800) throw new Error(`a curator run budget of ${runBudgetSeconds} s leaves no attempt deadline under Scheduler's 30 min`);
  return { runBudgetSeconds, attemptDeadlineSeconds, functionTimeoutSeconds: attemptDeadlineSeconds + 120 };
}

export interface CuratorScheduleArgs {
  project: string;
  region: string;
  /** Cron, UTC. */
  schedule: string;
  /** The curator's run endpoint (its URL + '/run'). */
  runUrl: pulumi.Input<string>;
  /** The token's `aud`: what the curator's SCHEDULER_AUDIENCE holds. */
  audience: pulumi.Input<string>;
  serviceAccountEmail: pulumi.Input<string>;
  attemptDeadlineSeconds: number;
  /**
   * A second job, `POST /replay {"from": "quarantine"}` on this cron (UTC), with the same token:
   * quarantined events that pass the registry now (a version published since) are republished.
   * Absent: no scheduled replay (`npm run replay` still works).
   */
  replay?: { schedule: string; url: pulumi.Input<string> };
  dependsOn: pulumi.Resource[];
}

/** What the scheduled replay asks for: quarantine, all of it (a marker keeps each record to one replay). */
export const SCHEDULED_REPLAY_BODY = { from: 'quarantine' } as const;

/** Cloud Scheduler fires `POST /run` (and, when asked, `POST /replay`) on the curator with an OIDC token signed as the scheduler account. */
export class CuratorSchedule extends pulumi.ComponentResource {
  readonly job: gcp.cloudscheduler.Job;
  readonly replayJob: gcp.cloudscheduler.Job | undefined;

  constructor(name: string, args: CuratorScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:CuratorSchedule', name, {}, opts);
    this.job = new gcp.cloudscheduler.Job(
      'curator-run',
      {
        project: args.project,
        region: args.region,
        name: 'strata-curator-run',
        description: 'Strata curator: compaction and incremental rollups',
        schedule: args.schedule,
        timeZone: 'Etc/UTC',
        attemptDeadline: `${args.attemptDeadlineSeconds}s`,
        // A failed day answers 500: retry a few times, then the next tick continues anyway.
        retryConfig: { retryCount: 2, minBackoffDuration: '30s', maxBackoffDuration: '120s', maxDoublings: 2 },
        httpTarget: {
          httpMethod: 'POST',
          uri: args.runUrl,
          oidcToken: { serviceAccountEmail: args.serviceAccountEmail, audience: args.audience },
        },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.replayJob = args.replay
      ? new gcp.cloudscheduler.Job(
          'curator-replay',
          {
            project: args.project,
            region: args.region,
            name: 'strata-curator-replay',
            description: 'Strata curator: replay of quarantined events that pass the registry now',
            schedule: args.replay.schedule,
            timeZone: 'Etc/UTC',
            attemptDeadline: `${args.attemptDeadlineSeconds}s`,
            // A refused publish answers 500; a retry resends only what was not marked (and dedup covers the rest).
            retryConfig: { retryCount: 2, minBackoffDuration: '30s', maxBackoffDuration: '120s', maxDoublings: 2 },
            httpTarget: {
              httpMethod: 'POST',
              uri: args.replay.url,
              headers: { 'Content-Type': 'application/json' },
              // Scheduler takes the body base64-encoded.
              body: Buffer.from(JSON.stringify(SCHEDULED_REPLAY_BODY)).toString('base64'),
              oidcToken: { serviceAccountEmail: args.serviceAccountEmail, audience: args.audience },
            },
          },
          { parent: this, dependsOn: args.dependsOn },
        )
      : undefined;
    this.registerOutputs({ job: this.job.name, replayJob: this.replayJob?.name });
  }
}
