import type pg from 'pg';
import { createUlidFactory, type Logger } from '@strata/runtime';
import { DEFAULT_EVENT_TIME_WINDOW, ROLLUPS } from '@strata/schemas';
import { DEFAULT_COMPACTION_POLICY } from './compaction-policy.js';
import type { CurationSettings, CuratorDeps } from './curate.js';
import type { LakeStore } from './lake-store.js';
import { openDuckDbEngine } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

/** The settings tests curate with unless they say otherwise: the defaults, a 60 s budget, two downloads at once. */
export const TEST_CURATION_SETTINGS: CurationSettings = {
  eventWindow: DEFAULT_EVENT_TIME_WINDOW,
  marginDays: 2,
  runBudgetMs: 60_000,
  rollupRetentionDays: 0,
  compaction: DEFAULT_COMPACTION_POLICY,
  downloadConcurrency: 2,
};

/** A curator's dependencies for a test: the real store over `pool`, DuckDB, every declared rollup. */
export function testCuratorDeps(
  { lake, pool, workDir, logger }: { lake: LakeStore; pool: pg.Pool; workDir: string; logger: Logger },
  overrides: Partial<CuratorDeps> = {},
): CuratorDeps {
  return {
    lake,
    store: createPgSummaryStore(pool),
    openEngine: () => openDuckDbEngine(ROLLUPS),
    rollups: ROLLUPS,
    settings: TEST_CURATION_SETTINGS,
    workDir,
    logger,
    newId: createUlidFactory(),
    now: () => Date.now(),
    ...overrides,
  };
}
