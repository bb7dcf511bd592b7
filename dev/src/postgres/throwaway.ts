import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../free-port.js';

const run = promisify(execFile);

/** Where Debian/Ubuntu keep the server binaries: outside PATH, one folder per major version. */
export const POSTGRES_LIB_DIR = '/usr/lib/postgresql';

export const THROWAWAY_DATABASE = 'strata_test';

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
  /** An outage, for fault tests: the server shuts down (`-m fast`, connections cut) and its data stays. */
  shutDown(): Promise<void>;
  /** Starts it again after shutDown(), on the same port with the same data. */
  startUp(): Promise<void>;
}

/** The bin folder of the newest installed PostgreSQL that has initdb and pg_ctl, or undefined. */
export function findPostgresBinDir(libDir: string = POSTGRES_LIB_DIR): string | undefined {
  if (!existsSync(libDir)) return undefined;
  const versions = readdirSync(libDir)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(libDir, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

/** initdb and the postmaster refuse to run as root; as root we run them as the `postgres` user. */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

async function runServerTool(bin: string, args: string[]): Promise<void> {
  const [file, argv] = asServerUser(bin, args);
  try {
    await run(file, argv, { timeout: 60_000 });
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string; stdout?: string };
    throw new Error(`${[file, ...argv].join(' ')} failed: ${(stderr || stdout || String(err)).trim()}`, { cause: err });
  }
}

/**
 * A private PostgreSQL cluster for tests and the local stack: initdb into a temp folder, trust auth
 * for 127.0.0.1 only (no Unix socket, nothing else listens), a free port below the ephemeral range,
 * and a database named `strata_test`. About 2 s. `stop()` = `pg_ctl stop -m fast` + remove the folder;
 * if the process exits without calling it, an exit hook stops the server so no postmaster is left behind.
 */
export async function startThrowawayPostgres({ port }: { port?: number } = {}): Promise<RunningPostgres> {
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Error(`no PostgreSQL server binaries under ${POSTGRES_LIB_DIR}/<version>/bin`);
  const pgCtl = join(binDir, 'pg_ctl');
  const root = await mkdtemp(join(tmpdir(), 'strata-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'postgres.log');

  let started = false;
  const stopSync = () => {
    if (started) {
      const [file, argv] = asServerUser(pgCtl, ['stop', '-m', 'immediate', '-D', dataDir]);
      try {
        execFileSync(file, argv, { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // Best effort while the process is exiting.
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', stopSync);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', stopSync);
      try {
        if (started) await runServerTool(pgCtl, ['stop', '-m', 'fast', '-D', dataDir]);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    })());

  try {
    if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', root]);
    // --no-sync and fsync=off: the data is thrown away, durability only costs time.
    await runServerTool(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // Replace initdb's rules: TCP from 127.0.0.1 only. initdb wrote the file, so it stays the server user's.
    await writeFile(join(dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');

    let chosen = port;
    let options = '';
    // A probed port can still be taken before the postmaster binds it; try a few when we chose it.
    for (let attempt = 1; ; attempt++) {
      chosen = port ?? (await freePort());
      options = `-p ${chosen} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c full_page_writes=off`;
      try {
        await runServerTool(pgCtl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', options]);
        started = true;
        break;
      } catch (err) {
        if (port !== undefined || attempt >= 3) throw new Error(`${(err as Error).message}\n${tail(logFile)}`, { cause: err });
      }
    }

    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${chosen}/postgres` });
    await admin.connect();
    try {
      await admin.query(`create database ${THROWAWAY_DATABASE}`);
    } finally {
      await admin.end();
    }
    const startOptions = options;
    return {
      url: `postgres://postgres@127.0.0.1:${chosen}/${THROWAWAY_DATABASE}`,
      stop,
      async shutDown() {
        await runServerTool(pgCtl, ['stop', '-m', 'fast', '-D', dataDir]);
        started = false;
      },
      async startUp() {
        await runServerTool(pgCtl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', startOptions]);
        started = true;
      },
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}
