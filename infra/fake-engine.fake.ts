import { createRequire } from 'node:module';
import { mockState } from './pulumi-mocks.fake.js';

/**
 * An in-process stand-in for the Pulumi engine: the ResourceMonitor and Engine gRPC services the
 * language host hands a Node program (`--monitor`, `--engine`), built from the service definitions
 * @pulumi/pulumi ships (proto/*_grpc_pb.js). It records every RegisterResource and answers it the
 * way the mocks do, so @pulumi/pulumi's own runner (cmd/run) can execute the real program.
 */
const protoRequire = createRequire(createRequire(import.meta.url).resolve('@pulumi/pulumi/proto/resource_grpc_pb.js'));
/* eslint-disable @typescript-eslint/no-explicit-any -- generated protobuf classes are untyped JS */
const grpc = protoRequire('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const resourceGrpc = protoRequire('./resource_grpc_pb.js') as any;
const engineGrpc = protoRequire('./engine_grpc_pb.js') as any;
const structPb = protoRequire('google-protobuf/google/protobuf/struct_pb.js') as any;

export interface Registration {
  type: string;
  name: string;
  custom: boolean;
  urn: string;
  parent: string;
  dependencies: string[];
  inputs: Record<string, unknown>;
}

export interface FakeEngine {
  address: string;
  registrations: Registration[];
  invokes: Array<{ token: string; args: Record<string, unknown> }>;
  logs: Array<{ severity: number; message: string }>;
  features: string[];
  rootUrn: string | undefined;
  stop(): Promise<void>;
}

/** Implements every method of a service definition; unlisted ones answer an empty response. */
function implement(service: Record<string, { responseType: new () => unknown }>, handlers: Record<string, (request: any) => unknown>) {
  const impl: Record<string, (call: { request: any }, callback: (err: Error | null, res?: unknown) => void) => void> = {};
  for (const [method, def] of Object.entries(service)) {
    const handler = handlers[method];
    impl[method] = (call, callback) => {
      try {
        callback(null, handler ? handler(call.request) : new def.responseType());
      } catch (err) {
        callback(err as Error);
      }
    };
  }
  return impl;
}

export async function startFakeEngine(project: string, stack: string): Promise<FakeEngine> {
  const state: FakeEngine = { address: '', registrations: [], invokes: [], logs: [], features: [], rootUrn: undefined, stop: async () => undefined };
  const server = new grpc.Server();
  const monitor = resourceGrpc.ResourceMonitorService;
  const engine = engineGrpc.EngineService;
  const urnOf = (type: string, name: string, parentUrn: string) => {
    const parentType = parentUrn ? parentUrn.split('::')[2]! : '';
    const qualified = parentType && !parentType.startsWith('pulumi:pulumi:Stack') ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
  };

  server.addService(
    monitor,
    implement(monitor, {
      supportsFeature: (req) => {
        state.features.push(req.getId());
        const res = new monitor.supportsFeature.responseType();
        // Secrets only: everything else (resource references, output values…) the SDK serialises plainly.
        res.setHassupport(req.getId() === 'secrets');
        return res;
      },
      registerResource: (req) => {
        const inputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
        const parent = req.getParent() as string;
        const registration: Registration = {
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          parent,
          urn: urnOf(req.getType(), req.getName(), parent),
          dependencies: req.getDependenciesList(),
          inputs,
        };
        state.registrations.push(registration);
        const res = new monitor.registerResource.responseType();
        res.setUrn(registration.urn);
        if (registration.custom) {
          res.setId(typeof inputs.name === 'string' ? inputs.name : `${registration.name}-id`);
          res.setObject(structPb.Struct.fromJavaScript({ ...inputs, ...mockState(registration.type, inputs) }));
        } else {
          res.setObject(structPb.Struct.fromJavaScript({}));
        }
        return res;
      },
      invoke: (req) => {
        const args = (req.getArgs()?.toJavaScript() ?? {}) as Record<string, unknown>;
        state.invokes.push({ token: req.getTok(), args });
        const res = new monitor.invoke.responseType();
        const result = req.getTok() === 'gcp:organizations/getProject:getProject' ? { number: '123456789012', projectId: args.projectId, name: 'Strata' } : {};
        res.setReturn(structPb.Struct.fromJavaScript(result));
        return res;
      },
    }),
  );
  server.addService(
    engine,
    implement(engine, {
      log: (req) => {
        state.logs.push({ severity: req.getSeverity(), message: req.getMessage() });
        return new engine.log.responseType();
      },
      getRootResource: () => {
        const res = new engine.getRootResource.responseType();
        res.setUrn(state.rootUrn ?? '');
        return res;
      },
      setRootResource: (req) => {
        state.rootUrn = req.getUrn();
        return new engine.setRootResource.responseType();
      },
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  state.address = `127.0.0.1:${port}`;
  state.stop = () => new Promise((resolve) => server.tryShutdown(() => resolve()));
  return state;
}
