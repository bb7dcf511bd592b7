import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { load } from '@grpc/proto-loader';

/**
 * Loads google.pubsub.v1 from the .proto files @google-cloud/pubsub ships, so the emulator speaks exactly
 * the API version of the client it serves. Its imports (google/api/*) come from google-gax's copy of the
 * common protos; google/protobuf/* are bundled with protobufjs.
 */
export interface PubsubServices {
  publisher: ServiceDefinition;
  subscriber: ServiceDefinition;
}

/** Walks up from a resolved module file to the folder that holds `relative`. */
function findUp(from: string, relative: string): string {
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, relative))) return dir;
  }
  throw new Error(`cannot find ${relative} above ${from}`);
}

export function protoRoots(): { pubsub: string; common: string } {
  const require = createRequire(import.meta.url);
  const pubsubEntry = require.resolve('@google-cloud/pubsub');
  const pubsub = join(findUp(pubsubEntry, 'build/protos/google/pubsub/v1/pubsub.proto'), 'build/protos');
  // google-gax is a dependency of @google-cloud/pubsub, so resolve it from there.
  const gaxEntry = createRequire(pubsubEntry).resolve('google-gax');
  const common = join(findUp(gaxEntry, 'build/protos/google/api/annotations.proto'), 'build/protos');
  return { pubsub, common };
}

export async function loadPubsubServices(): Promise<PubsubServices> {
  const roots = protoRoots();
  const definition = await load('google/pubsub/v1/pubsub.proto', {
    includeDirs: [roots.pubsub, roots.common],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    arrays: true,
    objects: true,
    oneofs: true,
  });
  const v1 = (loadPackageDefinition(definition) as unknown as PubsubPackage).google.pubsub.v1;
  return { publisher: v1.Publisher.service, subscriber: v1.Subscriber.service };
}

interface PubsubPackage {
  google: { pubsub: { v1: { Publisher: { service: ServiceDefinition }; Subscriber: { service: ServiceDefinition } } } };
}
