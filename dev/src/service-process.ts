import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * One Strata service run as its own Node process (`node --import tsx services/<name>/src/main.ts`),
 * exactly as Cloud Run runs it: configured by environment only. Its JSON log lines are appended to
 * a file and handed to `onLog`, which is how the local stack counts what the pipeline did.
 *
 * Each service runs in its own process group (`detached`): a Ctrl-C in the terminal signals the
 * whole foreground group, and a writer that got it directly would stop before the stack has
 * drained Pub/Sub into it. The stack stops services itself, with SIGTERM, in data-flow order. So
 * that none outlives the stack, each one is killed from this process's `exit` hook and, for the
 * deaths no hook sees (SIGKILL), stops itself when its stdin pipe closes (exit-with-parent.ts).
 */
export type ServiceName = 'ingest' | 'writer' | 'curator';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const exitWithParent = new URL('./exit-with-parent.ts', import.meta.url).href;

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
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--import', exitWithParent, `services/${name}/src/main.ts`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    // stdin is the pipe whose end tells the service the stack is gone; nothing is written to it.
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  // Synchronous, as `exit` hooks must be: the whole group, in case the service started children.
  const killOnExit = () => {
    if (alive() && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.on('exit', killOnExit);
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
      process.off('exit', killOnExit);
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
      if (alive()) child.kill(signal);
    },
  };
}
