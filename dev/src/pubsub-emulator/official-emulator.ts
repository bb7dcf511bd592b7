import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from '../free-port.js';

/**
 * Google's official Pub/Sub emulator (Java), as the Debian package google-cloud-cli-pubsub-emulator
 * installs it. Used by the conformance tests to hold our emulator to the same behaviour; a laptop
 * without the package runs against ours alone.
 */
export const OFFICIAL_EMULATOR_BIN = '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

export interface OfficialEmulator {
  host: string;
  port: number;
  address: string;
  pid: number;
  /** The emulator's recent console output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export const officialEmulatorInstalled = (bin = OFFICIAL_EMULATOR_BIN): boolean => existsSync(bin);

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// The JVM takes 2–5 s to start on a busy 2-core machine.
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_KEPT = 20_000;

export async function startOfficialEmulator(options: { bin?: string; host?: string; port?: number } = {}): Promise<OfficialEmulator> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  // The launcher script execs java, so the child's pid is the JVM's.
  const child = spawn(options.bin ?? OFFICIAL_EMULATOR_BIN, [`--host=${host}`, `--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(host, port))) {
    if (exitedEarly || Date.now() > deadline) {
      await stop();
      throw new Error(`official Pub/Sub emulator did not start on ${host}:${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { host, port, address: `${host}:${port}`, pid: child.pid!, output: () => output, stop };
}
