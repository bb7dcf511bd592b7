import { describe, expect, it } from 'vitest';
import { ANONYMOUS_ID_KEY, SESSION_KEY, createIdentity, memoryStore, safeStore, type KeyValueStore } from './identity.js';

const ids = () => {
  let n = 0;
  return () => `id-${++n}`;
};

describe('createIdentity', () => {
  it('keeps one anonymous id in storage, across identities (page loads) on the same storage', () => {
    const store = memoryStore();
    const first = createIdentity({ store, newId: ids() }).anonymousId();
    expect(first).toBe('id-1');
    expect(store.getItem(ANONYMOUS_ID_KEY)).toBe('id-1');
    expect(createIdentity({ store, newId: () => 'other' }).anonymousId()).toBe('id-1');
  });

  it('replaces a stored anonymous id that is not a valid id', () => {
    const store = memoryStore();
    store.setItem(ANONYMOUS_ID_KEY, 'has spaces');
    expect(createIdentity({ store, newId: () => 'fresh' }).anonymousId()).toBe('fresh');
  });

  it('keeps the session while events keep coming, and starts a new one after the inactivity timeout', () => {
    const store = memoryStore();
    let t = 0;
    const identity = createIdentity({ store, newId: ids(), now: () => t, sessionTimeoutMs: 1000 });
    expect(identity.sessionId()).toBe('id-1');
    t = 999;
    expect(identity.sessionId()).toBe('id-1');
    t = 1998; // 999 ms after the last event: activity extends the session
    expect(identity.sessionId()).toBe('id-1');
    t = 2998; // exactly the timeout without an event
    expect(identity.sessionId()).toBe('id-2');
    expect(store.getItem(SESSION_KEY)).toBe('id-2 2998');
  });

  it('starts a new session over a stored value it cannot read', () => {
    const store = memoryStore();
    store.setItem(SESSION_KEY, 'garbage');
    expect(createIdentity({ store, newId: () => 'new', now: () => 5 }).sessionId()).toBe('new');
  });
});

describe('safeStore', () => {
  const throwing: KeyValueStore = {
    getItem: () => {
      throw new Error('SecurityError');
    },
    setItem: () => {
      throw new Error('QuotaExceededError');
    },
  };

  it('falls back to memory when storage cannot be opened or used', () => {
    const blocked = safeStore(() => {
      throw new Error('SecurityError: access denied');
    });
    blocked.setItem('a', '1');
    expect(blocked.getItem('a')).toBe('1');
    const failing = safeStore(() => throwing);
    failing.setItem('b', '2');
    expect(failing.getItem('b')).toBe('2');
  });

  it('writes through to storage that works', () => {
    const backing = memoryStore();
    safeStore(() => backing).setItem('k', 'v');
    expect(backing.getItem('k')).toBe('v');
  });
});
