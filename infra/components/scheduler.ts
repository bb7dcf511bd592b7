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
  dependsOn: pulumi.Resource[];
}

/** Cloud Scheduler fires `POST /run` on the curator with an OIDC token signed as the scheduler account. */
export class CuratorSchedule extends pulumi.ComponentResource {
  readonly job: gcp.cloudscheduler.Job;

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
    this.registerOutputs({ job: this.job.name });
  }
}
