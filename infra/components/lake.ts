import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { LAKE_ZONES, type ZoneLifecycle } from '@strata/schemas';
type LifecycleRule = gcp.types.input.storage.BucketLifecycleRule;

const CLASS_ORDER = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'] as const;

/**
 * The bucket's lifecycle rules, generated from the zones `schemas/` declares: each transition moves
 * the zone's objects that are still in a warmer class, each `deleteAfterDays` deletes them. A zone
 * without either gets no rule (curated files stay Standard and are never deleted by the lake).
 * https://cloud.google.com/storage/docs/lifecycle#matchesprefix-suffix
 */
export function lifecycleRulesFor(zones: readonly ZoneLifecycle[] = LAKE_ZONES): LifecycleRule[] {
  return zones.flatMap((zone) => {
    const rules: LifecycleRule[] = zone.transitions.map((t) => ({
      action: { type: 'SetStorageClass', storageClass: t.storageClass },
      condition: {
        age: t.afterDays,
        matchesPrefixes: [zone.prefix],
        matchesStorageClasses: CLASS_ORDER.slice(0, CLASS_ORDER.indexOf(t.storageClass)),
      },
    }));
    if (zone.deleteAfterDays !== undefined) {
      rules.push({ action: { type: 'Delete' }, condition: { age: zone.deleteAfterDays, matchesPrefixes: [zone.prefix] } });
    }
    return rules;
  });
}

export interface LakeArgs {
  project: string;
  name: string;
  location: string;
  /** Members that create new objects only (the writer: fresh names, `ifGenerationMatch: 0`). */
  objectCreators: pulumi.Input<string>[];
  /** Members that list, read, create and delete objects (the curator: compaction and curated/ rewrites). */
  objectUsers: pulumi.Input<string>[];
  dependsOn: pulumi.Resource[];
}

/** The Parquet lake: one private bucket, its lifecycle, and who may touch its objects. */
export class Lake extends pulumi.ComponentResource {
  readonly bucket: gcp.storage.Bucket;
  /** For the BigQuery connection binding (bigquery.ts) and the services' LAKE_BUCKET. */
  readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: LakeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Lake', name, {}, opts);
    const child = { parent: this, dependsOn: args.dependsOn };
    this.bucket = new gcp.storage.Bucket(
      'lake',
      {
        project: args.project,
        name: args.name,
        location: args.location,
        storageClass: 'STANDARD',
        // Secure by default: IAM only (no ACLs), never public.
        uniformBucketLevelAccess: true,
        publicAccessPrevention: 'enforced',
        // Objects are immutable by design (fresh names, create-only); compaction replaces them.
        versioning: { enabled: false },
        lifecycleRules: lifecycleRulesFor(LAKE_ZONES),
        forceDestroy: false,
      },
      child,
    );
    this.bucketName = this.bucket.name;

    // roles/storage.objectCreator = storage.objects.create only: the writer never reads, lists
    // or overwrites (services/writer/src/lake-store.ts uploads with ifGenerationMatch: 0).
    args.objectCreators.forEach((member, i) => {
      new gcp.storage.BucketIAMMember(`lake-object-creator-${i}`, { bucket: this.bucket.name, role: 'roles/storage.objectCreator', member }, child);
    });
    // roles/storage.objectUser = objects get/list/create/delete/update, no IAM or bucket admin: the
    // narrowest predefined role for the curator, which lists and downloads hours, uploads compacted
    // and curated/ files (curated ones overwrite, which needs delete), and deletes compacted inputs
    // by generation (services/curator/src/lake-store.ts).
    args.objectUsers.forEach((member, i) => {
      new gcp.storage.BucketIAMMember(`lake-object-user-${i}`, { bucket: this.bucket.name, role: 'roles/storage.objectUser', member }, child);
    });
    this.registerOutputs({ bucketName: this.bucketName });
  }
}
