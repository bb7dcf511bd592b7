import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { buildBrowserSdk } from '@strata/browser/build';
import { LOCAL } from '@strata/dev/local-config';
import { queryLake } from '@strata/dev/query';
import type { Stack } from '@strata/dev/stack';
import { startTestStack, waitFor } from './harness.js';
import { freePort } from '@strata/dev/free-port';

/**
 * The browser SDK (sdk/browser) in a real headless Chromium against the local stack: a publisher's
 * article with inline links and two of our widget iframes from a second origin, then a page
 * without IntersectionObserver. It scrolls, waits and hides the pages, and finds exactly the
 * impressions, clicks and page views it should in the lake:
 *
 * - a link visible for 1.5 s counts; one scrolled past in 200 ms (minVisibleMs 1000) does not;
 * - a widget link visible inside its iframe counts only once the parent shows the iframe: the
 *   iframe left scrolled off the page never counts, nor does one in view whose SDK trusts another
 *   parent origin (the page's messages are refused, so it never learns it is visible);
 * - the article batches for a minute, so its events arrive only in the sendBeacon flushed when the
 *   page is hidden (key in the query string, batch object with hoisted `common`); the widget's
 *   arrive by fetch within its 2 s batching;
 * - without IntersectionObserver, measurement after scrolls counts the same way.
 *
 * Debian's chromium (installed by .ci/run) is driven by playwright-core; the test skips, saying
 * so, only where /usr/bin/chromium is missing.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser SDK tests SKIPPED: ${CHROMIUM} is not installed (.ci/run installs Debian's chromium with apt-get)`);

// A free port, allowed as two origins of the local dev key (StackOptions.browserOrigins): the
// article on one, the widget on the other, so the iframe is cross-origin as on a real publisher's page.
const PORT = await freePort();
const ARTICLE_ORIGIN = `http://127.0.0.1:${PORT}`;
const WIDGET_ORIGIN = `http://localhost:${PORT}`;
const LINK = 'https://partner.example';
const PUBLISHER = 'pub-e2e';
const MIN_VISIBLE_MS = 1000;

const hidePage = `
  window.hidePage = () => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  };
  // Clicks are tracked, not followed (the partner's site is not there).
  document.addEventListener('click', (event) => event.preventDefault());`;

const impressions = (placement: string) =>
  `{ threshold: 0.5, minVisibleMs: ${MIN_VISIBLE_MS}, placement: '${placement}', publisherId: '${PUBLISHER}' }`;

function pages(ingest: string): Record<string, string> {
  // The article batches for a minute: only the flush on hide can deliver its events.
  const article = `<!doctype html><html><head><meta charset="utf-8"><title>Article</title></head>
<body style="margin:0;font:16px sans-serif">
  <p style="margin:100px 0 0"><a id="seen" class="partner" href="${LINK}/seen">seen</a></p>
  <div style="height:1900px"></div>
  <p><a id="fast" class="partner" href="${LINK}/fast">fast</a></p>
  <div style="height:2000px"></div>
  <div style="display:flex">
    <iframe id="shown" src="${WIDGET_ORIGIN}/widget.html?link=widget-shown" style="width:380px;height:300px;border:0"></iframe>
    <iframe id="untrusting" src="${WIDGET_ORIGIN}/widget.html?link=widget-untrusting&parent=https://other.example" style="width:380px;height:300px;border:0"></iframe>
  </div>
  <div style="height:4000px"></div>
  <iframe id="offscreen" src="${WIDGET_ORIGIN}/widget.html?link=widget-offscreen" style="width:600px;height:300px;border:0"></iframe>
  <script src="/strata.js"></script>
  <script>
    Strata.init({ endpoint: '${ingest}', key: '${LOCAL.apiKey}', flushIntervalMs: 60000, maxWaitMs: 60000 });
    window.pageViewId = Strata.page();
    Strata.observeImpressions('a.partner', ${impressions('inline')});
    Strata.observeFrames('iframe');
    ${hidePage}
  </script>
</body></html>`;
  // The widget: its one link sits in the iframe's own viewport; default batching (fetch).
  const widget = `<!doctype html><html><head><meta charset="utf-8"><title>Widget</title></head>
<body style="margin:0">
  <a class="w" style="display:inline-block;margin:20px" href="#">link</a>
  <script src="/strata.js"></script>
  <script>
    document.querySelector('a.w').href = '${LINK}/' + new URLSearchParams(location.search).get('link');
    const parentOrigin = new URLSearchParams(location.search).get('parent') || '${ARTICLE_ORIGIN}';
    Strata.init({ endpoint: '${ingest}', key: '${LOCAL.apiKey}', parentOrigin });
    Strata.observeImpressions('a.w', ${impressions('widget')});
    ${hidePage}
  </script>
</body></html>`;
  const fallback = `<!doctype html><html><head><meta charset="utf-8"><title>Fallback</title></head>
<body style="margin:0">
  <script>delete window.IntersectionObserver; delete window.IntersectionObserverEntry;</script>
  <p style="margin:100px 0 0"><a id="fallback-seen" class="partner" href="${LINK}/fallback-seen">seen</a></p>
  <div style="height:1900px"></div>
  <p><a id="fallback-fast" class="partner" href="${LINK}/fallback-fast">fast</a></p>
  <div style="height:3000px"></div>
  <script src="/strata.js"></script>
  <script>
    Strata.init({ endpoint: '${ingest}', key: '${LOCAL.apiKey}', flushIntervalMs: 60000, maxWaitMs: 60000 });
    window.pageViewId = Strata.page();
    Strata.observeImpressions('a.partner', ${impressions('inline')});
    ${hidePage}
  </script>
</body></html>`;
  return { '/article.html': article, '/widget.html': widget, '/fallback.html': fallback };
}

async function serve(files: Record<string, { type: string; body: string }>): Promise<Server> {
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${PORT} was taken between picking it and listening; run the test again`)
          : err,
      ),
    );
    server.listen(PORT, '127.0.0.1', resolve);
  });
  return server;
}

interface Sent {
  url: URL;
  at: number;
  headers: Record<string, string>;
  body: { common?: Record<string, unknown>; events: Array<Record<string, unknown>> };
}

const scrollTo = (page: Page, id: string) => page.evaluate(`document.getElementById('${id}').scrollIntoView({ block: 'center' })`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!hasChromium)('browser SDK in headless Chromium', () => {
  let stack: Stack;
  let stop: () => Promise<void>;
  let server: Server;
  let browser: Browser;

  beforeAll(async () => {
    const [sdk] = await Promise.all([buildBrowserSdk({ write: false }), (async () => ({ stack, stop } = await startTestStack({ flushMaxAgeMs: 1000, browserOrigins: [ARTICLE_ORIGIN, WIDGET_ORIGIN] })))()]);
    const script = sdk.find((f) => f.name === 'strata.js')!.text;
    const html = Object.fromEntries(Object.entries(pages(stack.urls.ingest)).map(([path, body]) => [path, { type: 'text/html; charset=utf-8', body }]));
    server = await serve({ ...html, '/strata.js': { type: 'text/javascript', body: script } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Chromium's sandbox refuses to run as root (CI containers).
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), `--host-resolver-rules=MAP localhost 127.0.0.1`],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await stop?.();
  });

  it('counts exactly the impressions and clicks seen long enough, in the page and its widget iframe, and flushes on hide', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    const sent: Sent[] = [];
    const pending: Promise<void>[] = [];
    context.on('request', (request: Request) => {
      if (request.method() !== 'POST' || !request.url().startsWith(stack.urls.ingest)) return;
      const at = Date.now();
      pending.push(request.allHeaders().then((headers) => void sent.push({ url: new URL(request.url()), at, headers, body: JSON.parse(request.postData() ?? '{}') })));
    });
    const sentSettled = async () => (await Promise.all(pending), sent);

    // The article: `seen` is in view from the start; both widget iframes are far below.
    const page = await context.newPage();
    await page.goto(`${ARTICLE_ORIGIN}/article.html`);
    await sleep(MIN_VISIBLE_MS + 500);
    await page.click('#seen');
    // Scrolled past faster than minVisibleMs.
    await scrollTo(page, 'fast');
    await sleep(200);
    // Two widgets come into view and stay (one trusting another parent origin); the third stays
    // scrolled off the whole time, its link visible inside its own iframe all along.
    await scrollTo(page, 'shown');
    await sleep(MIN_VISIBLE_MS + 1000);
    await page.frameLocator('#shown').locator('a.w').click();
    const articlePageViewId = String(await page.evaluate('window.pageViewId'));

    // The widget's events leave by fetch within its 2 s batching; none of the article's has left.
    await waitFor('the widget to send its batch', async () => (await sentSettled()).some((s) => s.headers.authorization), 15_000);
    expect(sent.every((s) => s.url.searchParams.get('key') === null)).toBe(true);
    const hiddenAt = Date.now();
    await page.evaluate('hidePage()');
    await waitFor('the beacon flushed on hide', async () => (await sentSettled()).some((s) => s.url.searchParams.has('key')), 10_000);
    await page.close(); // pagehide in the iframes: whatever they still hold is sent too

    // Without IntersectionObserver: measured after scrolls.
    const fallback = await context.newPage();
    await fallback.goto(`${ARTICLE_ORIGIN}/fallback.html`);
    await sleep(MIN_VISIBLE_MS + 300);
    await scrollTo(fallback, 'fallback-fast');
    await sleep(200);
    await fallback.evaluate('window.scrollTo(0, document.body.scrollHeight)');
    await sleep(MIN_VISIBLE_MS + 300);
    const fallbackPageViewId = String(await fallback.evaluate('window.pageViewId'));
    await fallback.evaluate('hidePage()');
    await waitFor('the fallback page\'s beacon', async () => (await sentSettled()).filter((s) => s.url.searchParams.has('key')).length >= 2, 10_000);
    await context.close();

    // The article's batch: one beacon after the hide, `?key=`, text/plain, shared fields in common.
    const beacons = (await sentSettled()).filter((s) => s.url.searchParams.get('key') === LOCAL.apiKey);
    const articleBeacon = beacons.find((b) => b.body.events.some((e) => e.event_id === articlePageViewId))!;
    expect(articleBeacon.at).toBeGreaterThanOrEqual(hiddenAt);
    expect(articleBeacon.headers['content-type']).toMatch(/^text\/plain/);
    expect(articleBeacon.headers.authorization).toBeUndefined();
    expect(articleBeacon.body.events).toHaveLength(3); // page view, impression, click
    expect(articleBeacon.body.common).toMatchObject({
      anonymous_id: expect.any(String),
      session_id: expect.any(String),
      context: { user_agent: expect.stringContaining('Chrome'), page: { url: `${ARTICLE_ORIGIN}/article.html`, title: 'Article' } },
    });
    const widgetFetch = sent.find((s) => s.headers.authorization)!;
    expect(widgetFetch.headers.authorization).toBe(`Bearer ${LOCAL.apiKey}`);
    expect(widgetFetch.headers.origin).toBe(WIDGET_ORIGIN);

    // In the lake: 2 page views, 3 impressions and 2 clicks, each once.
    const expected = 7;
    await waitFor('the events in the lake', () => stack.counters.values().rowsWritten >= expected, 30_000);
    await sleep(2500); // one more flush interval, so an event that should not exist would have landed

    const views = await queryLake(
      `select event_id, event, page_url, context.page.url as context_url, anonymous_id, session_id from user_action order by page_url`,
      stack.dataDir,
    );
    expect(views.rows.map(([id, event, url, contextUrl]) => [id, event, url, contextUrl])).toEqual([
      [articlePageViewId, 'page_view', `${ARTICLE_ORIGIN}/article.html`, `${ARTICLE_ORIGIN}/article.html`],
      [fallbackPageViewId, 'page_view', `${ARTICLE_ORIGIN}/fallback.html`, `${ARTICLE_ORIGIN}/fallback.html`],
    ]);
    const [[, , , , anonymousId, sessionId]] = views.rows as [unknown[]];
    // One browser, one origin, within the session timeout: one anonymous id and one session.
    expect(views.rows.map((r) => [r[4], r[5]])).toEqual([[anonymousId, sessionId], [anonymousId, sessionId]]);

    const seen = await queryLake(
      `select event, placement, link_url, publisher_id, page_url, visible_ratio, visible_ms, anonymous_id, count(*) over (partition by event_id) as copies
       from impression order by link_url, event`,
      stack.dataDir,
    );
    const rows = seen.rows.map(([event, placement, link, publisher, pageUrl, ratio, ms, anonymous, copies]) => ({
      event, placement, link, publisher, pageUrl, ratio: ratio === null ? null : Number(ratio), ms: ms === null ? null : Number(ms), anonymous, copies: Number(copies),
    }));
    expect(rows.map((r) => [r.event, r.placement, r.link, r.pageUrl])).toEqual([
      ['impression', 'inline', `${LINK}/fallback-seen`, `${ARTICLE_ORIGIN}/fallback.html`],
      ['click', 'inline', `${LINK}/seen`, `${ARTICLE_ORIGIN}/article.html`],
      ['impression', 'inline', `${LINK}/seen`, `${ARTICLE_ORIGIN}/article.html`],
      // The widget reports the publisher's page (told by the parent), not its own URL.
      ['click', 'widget', `${LINK}/widget-shown`, `${ARTICLE_ORIGIN}/article.html`],
      ['impression', 'widget', `${LINK}/widget-shown`, `${ARTICLE_ORIGIN}/article.html`],
    ]);
    for (const r of rows) {
      expect(r.publisher).toBe(PUBLISHER);
      expect(r.copies).toBe(1);
      if (r.event === 'impression') {
        expect(r.ratio).toBeGreaterThanOrEqual(0.5);
        expect(r.ratio).toBeLessThanOrEqual(1);
        expect(r.ms).toBeGreaterThanOrEqual(MIN_VISIBLE_MS);
        expect(r.ms).toBeLessThan(MIN_VISIBLE_MS + 2000);
      } else {
        expect([r.ratio, r.ms]).toEqual([null, null]);
      }
    }
    // The article's impressions share the page view's anonymous id; the widget, on another origin, has its own.
    expect(rows.filter((r) => r.placement === 'inline').every((r) => r.anonymous === anonymousId)).toBe(true);
    expect(rows.filter((r) => r.placement === 'widget').every((r) => typeof r.anonymous === 'string' && r.anonymous !== anonymousId)).toBe(true);
  });
});
