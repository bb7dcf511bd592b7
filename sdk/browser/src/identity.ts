/**
 * Who and which visit an event belongs to: an anonymous id kept in localStorage for as long as the
 * browser keeps it, and a session id that ends after `sessionTimeoutMs` without an event (30 min,
 * as web analytics tools count a visit). Both live in storage so every tab of the site shares them.
 */

/** The part of `Storage` used here; a fake or an in-memory one in tests and when storage is blocked. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export function memoryStore(): KeyValueStore {
  const values = new Map<string, string>();
  return { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => void values.set(key, value) };
}

/**
 * localStorage where it works, memory where it does not: reading `window.localStorage` throws when
 * storage is blocked (cookies disabled, some sandboxed iframes) and `setItem` throws when full, and
 * an analytics SDK must never break the page over it.
 */
export function safeStore(open: () => KeyValueStore): KeyValueStore {
  const memory = memoryStore();
  let store: KeyValueStore = memory;
  try {
    store = open();
    store.getItem('strata.probe');
  } catch {
    store = memory;
  }
  return {
    getItem(key) {
      try {
        return store.getItem(key) ?? memory.getItem(key);
      } catch {
        return memory.getItem(key);
      }
    },
    setItem(key, value) {
      memory.setItem(key, value);
      try {
        store.setItem(key, value);
      } catch {
        // Full or blocked: the in-memory copy keeps this page consistent.
      }
    },
  };
}

export const ANONYMOUS_ID_KEY = 'strata.anonymous_id';
export const SESSION_KEY = 'strata.session';
export const DEFAULT_SESSION_TIMEOUT_MS = 30 * 60_000;

export interface Identity {
  anonymousId(): string;
  /** The current session's id; starts a new one after the inactivity timeout. Counts as activity. */
  sessionId(): string;
}

export function createIdentity(options: { store: KeyValueStore; newId: () => string; now?: () => number; sessionTimeoutMs?: number }): Identity {
  const { store, newId, now = Date.now, sessionTimeoutMs = DEFAULT_SESSION_TIMEOUT_MS } = options;
  return {
    anonymousId() {
      let id = store.getItem(ANONYMOUS_ID_KEY);
      if (!id || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) {
        id = newId();
        store.setItem(ANONYMOUS_ID_KEY, id);
      }
      return id;
    },
    sessionId() {
      const t = now();
      // "<id> <last activity ms>"; anything else (another version, a hand edit) starts a new session.
      const [id, last] = (store.getItem(SESSION_KEY) ?? '').split(' ');
      const lastActivity = Number(last);
      const current = id && Number.isFinite(lastActivity) && t - lastActivity < sessionTimeoutMs ? id : newId();
      store.setItem(SESSION_KEY, `${current} ${t}`);
      return current;
    },
  };
}
