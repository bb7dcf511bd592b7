/**
 * Realistic, reproducible user_action events for the benchmarks (pipeline, ingest, writer encoder):
 * one seeded PRNG and one shopper's-action shape, so every bench sends the same kind of bytes.
 */

/** mulberry32: a tiny seeded PRNG, so every run benchmarks the same shapes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENTS = ['page_view', 'product_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout_started'] as const;
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
] as const;
const TITLES = ['Blue mug', 'Oak serving board', 'Linen napkins, set of 4', 'Cast iron tea pot'] as const;

/**
 * A shopper's action as a browser SDK POSTs it (with its routing field `log_type`), about 550 B as
 * JSON; `random` decides every choice, `ts` is its event time.
 */
export function shopperAction(random: () => number, ts: string): Record<string, unknown> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const event = pick(EVENTS);
  const user = Math.floor(random() * 50_000);
  const product = `p-${Math.floor(random() * 5_000)}`;
  const base: Record<string, unknown> = {
    log_type: 'user_action',
    event,
    ts,
    user_id: `u-${user}`,
    session_id: `s-${user}-${Math.floor(Date.parse(ts) / 1_800_000)}`,
    source: pick(['web', 'ios', 'android']),
    page_url: `https://shop.example/p/${product}`,
    referrer: pick(['https://www.google.com/', 'https://shop.example/']),
    context: {
      user_agent: pick(USER_AGENTS),
      locale: pick(['de-DE', 'en-GB', 'fr-FR']),
      // Redacted by ingest (x-pii: redact): the benchmarks pay for PII handling as production does.
      ip: '203.0.113.7',
      page: { url: `https://shop.example/p/${product}`, title: pick(TITLES) },
    },
  };
  if (event === 'search') return { ...base, search_query: pick(['blue mug', 'tea pot', 'linen napkins', 'oak board']) };
  if (event === 'page_view') return base;
  const priced = { ...base, product_id: product, price: Math.round(random() * 10_000) / 100, currency: 'EUR' };
  return event === 'product_view' ? priced : { ...priced, cart_id: `c-${user}`, quantity: 1 + Math.floor(random() * 3) };
}
