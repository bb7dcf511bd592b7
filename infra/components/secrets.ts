import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

/** A secret's value: given (a stack secret, a generated connection string) or generated here. */
export type SecretValue = { value: pulumi.Input<string> } | { randomLength: number };

export interface SecretSpec {
  /** The Secret Manager secret id. */
  secretId: string;
  source: SecretValue;
  /** The members that may read it (roles/secretmanager.secretAccessor on this secret only). */
  accessors: pulumi.Input<string>[];
}

export interface SecretsArgs {
  project: string;
  region: string;
  secrets: Record<string, SecretSpec>;
  dependsOn: pulumi.Resource[];
}

/** What a function needs to mount or inject one secret: its id and the pinned version. */
export interface SecretRef {
  secretId: pulumi.Output<string>;
  /** The version number: a new value is a new version, and a new version redeploys its readers. */
  version: pulumi.Output<string>;
}

/**
 * Secret Manager secrets, each replicated in the stack's region only and readable only by the
 * accounts named for it.
 */
export class Secrets<K extends string = string> extends pulumi.ComponentResource {
  readonly refs: Record<K, SecretRef>;

  constructor(name: string, args: SecretsArgs & { secrets: Record<K, SecretSpec> }, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Secrets', name, {}, opts);
    const child = { parent: this, dependsOn: args.dependsOn };
    const refs = {} as Record<K, SecretRef>;
    for (const [key, spec] of Object.entries(args.secrets) as Array<[K, SecretSpec]>) {
      const data =
        'value' in spec.source
          ? pulumi.secret(spec.source.value)
          : // Letters and digits only: the value ends up in env vars and URLs unescaped.
            new random.RandomPassword(`${key}-value`, { length: spec.source.randomLength, special: false }, { parent: this }).result;
      const secret = new gcp.secretmanager.Secret(
        key,
        { project: args.project, secretId: spec.secretId, replication: { userManaged: { replicas: [{ location: args.region }] } } },
        child,
      );
      const version = new gcp.secretmanager.SecretVersion(`${key}-version`, { secret: secret.id, secretData: data }, { parent: this });
      spec.accessors.forEach((member, i) => {
        new gcp.secretmanager.SecretIamMember(
          `${key}-accessor-${i}`,
          { project: args.project, secretId: secret.secretId, role: 'roles/secretmanager.secretAccessor', member },
          child,
        );
      });
      refs[key] = { secretId: secret.secretId, version: version.version };
    }
    this.refs = refs;
    this.registerOutputs({ secretIds: Object.fromEntries(Object.entries<SecretRef>(refs).map(([k, r]) => [k, r.secretId])) });
  }
}
