import { readFileSync } from 'node:fs';

/**
 * One memory figure of a process from Linux's /proc/<pid>/status, in MiB: `VmRSS` (resident now)
 * or `VmHWM` (peak resident). Undefined off Linux, or once the process is gone.
 * https://man7.org/linux/man-pages/man5/proc_pid_status.5.html
 */
export function processMemoryMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
