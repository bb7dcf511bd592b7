import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';

// Mocks must be set before the program is imported, so it is imported dynamically.
describe('infra program', () => {
  const created: Array<{ type: string; name: string; inputs: Record<string, unknown> }> = [];
  let program: typeof import('./index.js');

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          created.push({ type: args.type, name: args.name, inputs: args.inputs });
          return { id: `${args.name}-id`, state: { ...args.inputs, url: `gs://${args.inputs.name}` } };
        },
        call: (args) => args.inputs,
      },
      'strata',
      'test',
      false,
    );
    pulumi.runtime.setAllConfig({ 'strata:lakeBucketName': 'strata-lake-test', 'strata:region': 'europe-west4' });
    program = await import('./index.js');
  });

  const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

  it('creates a private lake bucket in the configured region', async () => {
    expect(await output(program.lakeBucketUrl)).toBe('gs://strata-lake-test');
    const bucket = created.find((r) => r.type === 'gcp:storage/bucket:Bucket');
    expect(bucket?.inputs).toMatchObject({ location: 'europe-west4', publicAccessPrevention: 'enforced', uniformBucketLevelAccess: true });
  });

  it('creates the events and dead-letter topics', async () => {
    expect(await output(program.topicName)).toBe('strata-events');
    expect(created.filter((r) => r.type === 'gcp:pubsub/topic:Topic').map((r) => r.inputs.name).sort()).toEqual([
      'strata-events',
      'strata-events-dead-letter',
    ]);
  });
});
