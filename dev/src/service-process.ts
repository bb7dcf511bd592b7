import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * One Strata service run as its own Node process (`tsx services/<name>/src/main.ts`), exactly as
 * Cloud Run runs it: configured by environment only. Its JSON log lines are appended to a file
 * and handed to `onLog`, which is how the local stack counts what the pipeline did.
 */
export type ServiceName = 'ingest' | 'writer' | 'curator';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcessOptions {
  name: ServiceName;
  env: Record<string, string>;
  logFile: string;
  onLog: (name: ServiceName, line: Record<string, unknown>) => void;
}

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly pid: number | undefined;
  /** Resolves once the service logged that it listens; rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

export function startServiceProcess(options: ServiceProcessOptions): ServiceProcess {
  const { name, env, logFile, onLog } = options;
  const log: WriteStream = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', `services/${name}/src/main.ts`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  const stderrTail: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    log.write(`${text}\n`);
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof line.message === 'string' && line.message.endsWith(' listening')) markReady();
    onLog(name, line);
  });
  createInterface({ input: child.stderr! }).on('line', (text) => {
    log.write(`${text}\n`);
    stderrTail.push(text);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      failReady(new Error(`${name} exited (${signal ?? code}) before listening:\n${stderrTail.join('\n')}`));
      log.end();
      resolve(signal ?? code ?? 0);
    });
  });
  return {
    name,
    pid: child.pid,
    ready,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
