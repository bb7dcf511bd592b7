import * as pulumi from '@pulumi/pulumi';

export interface StrataConfig {
  region: string;
  lakeBucketName: string;
}

/** Reads and validates the stack config (declared in Pulumi.yaml) before any resource exists. */
export function loadStrataConfig(config = new pulumi.Config('strata')): StrataConfig {
  const lakeBucketName = config.require('lakeBucketName');
  if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(lakeBucketName)) {
    throw new Error(`strata:lakeBucketName "${lakeBucketName}" is not a valid GCS bucket name`);
  }
  return { region: config.get('region') ?? 'europe-west1', lakeBucketName };
}
