import { processMemoryMiB } from '../src/proc-status.js';

/** One process's resident set over time: [epoch ms, MiB]. */
export interface RssSeries {
  name: string;
  samples: Array<[number, number]>;
}

/**
 * Samples VmRSS of named processes every `everyMs`, from now until `stop()`. A pid is looked up at
 * each sample (a restarted service has a new one); a process that is gone has no sample then.
 */
export function startRssSampler(pids: Record<string, () => number | undefined>, everyMs: number): { stop(): RssSeries[] } {
  const series = Object.keys(pids).map((name): RssSeries => ({ name, samples: [] }));
  const sample = () => {
    const at = Date.now();
    for (const s of series) {
      const mib = processMemoryMiB(pids[s.name]!(), 'VmRSS');
      if (mib !== undefined) s.samples.push([at, mib]);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return series;
    },
  };
}
