import type { IncomingMessage, ServerResponse } from 'node:http';
import { FAULTS_PATH, serveFaultAdmin } from '../fault-admin.js';

/**
 * Faults the emulator can be told to inject while it runs, for chaos tests: dev/ only, never in a
 * service. Set over HTTP on the emulator's certs server (`POST /_strata/faults` with a JSON body,
 * `GET` shows settings and counts, `DELETE` clears) or with `emulator.faults.set(...)`. A restart of
 * the emulator is the other Pub/Sub fault; the process hosting it does that (`stack.restartPubsub()`).
 */
export interface PubsubFaultSettings {
  /**
   * Share of push requests (0–1) whose connection is cut at a random moment within the first
   * `pushDropWithinMs` after it opens: the receiver may have taken and even processed the message,
   * but the emulator never sees the answer, nacks, and delivers it again.
   */
  pushDropRate: number;
  pushDropWithinMs: number;
}

export interface PubsubFaults {
  settings(): PubsubFaultSettings;
  set(changes: Partial<PubsubFaultSettings>): PubsubFaultSettings;
  clear(): void;
  /** How many of each fault were injected since the emulator started. */
  injected(): { pushDropped: number };
  /** Decides, for one push, after how many ms to cut it; undefined to leave it alone. */
  pushDropAfterMs(): number | undefined;
  /** Serves /_strata/faults; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export { FAULTS_PATH };
const NONE: PubsubFaultSettings = { pushDropRate: 0, pushDropWithinMs: 500 };

function validated(changes: Record<string, unknown>): Partial<PubsubFaultSettings> | string {
  const out: Partial<PubsubFaultSettings> = {};
  for (const [key, value] of Object.entries(changes)) {
    if (key === 'pushDropRate') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) return 'pushDropRate must be a number from 0 to 1';
      out.pushDropRate = value;
    } else if (key === 'pushDropWithinMs') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return 'pushDropWithinMs must be a non-negative integer';
      out.pushDropWithinMs = value;
    } else {
      return `unknown fault "${key}" (the faults are pushDropRate, pushDropWithinMs)`;
    }
  }
  return out;
}

export function createPubsubFaults(random: () => number = Math.random): PubsubFaults {
  let settings = { ...NONE };
  let pushDropped = 0;
  const current = () => ({ settings, injected: { pushDropped } });
  const faults: PubsubFaults = {
    settings: () => settings,
    set(changes) {
      const checked = validated(changes as Record<string, unknown>);
      if (typeof checked === 'string') throw new Error(checked);
      settings = { ...settings, ...checked };
      return settings;
    },
    clear() {
      settings = { ...NONE };
    },
    injected: () => ({ pushDropped }),
    pushDropAfterMs() {
      if (settings.pushDropRate <= 0 || random() >= settings.pushDropRate) return undefined;
      pushDropped += 1;
      return Math.floor(random() * settings.pushDropWithinMs);
    },
    handle: (req, res) =>
      serveFaultAdmin(req, res, {
        state: current,
        change(body) {
          const checked = validated(body);
          if (typeof checked === 'string') return checked;
          settings = { ...settings, ...checked };
          return current();
        },
        clear() {
          faults.clear();
          return current();
        },
      }),
  };
  return faults;
}
