import { createDwellTracker } from './dwell.js';
import { hasIntersectionObserver, onViewportChange, resolveElements, viewportBox, clip, type ElementTarget, type Observation } from './elements.js';
import { visibleRatio } from './geometry.js';
import type { ParentVisibility } from './frames.js';

/**
 * Impressions and clicks of our links on a publisher's page or inside our widget's iframe (seed
 * 003). An element's own visibility comes from IntersectionObserver, or where a browser lacks it
 * from `getBoundingClientRect()` after scrolls and resizes; inside an iframe it is capped by what
 * the parent page reports of the iframe; a hidden page shows nothing.
 */

export interface ImpressionOptions {
  /** The share of the element that must be visible, above 0 up to 1 (default 0.5). */
  threshold?: number;
  /** How long it must stay so without a break (default 1000 ms). */
  minVisibleMs?: number;
  /** `inline` for links in the publisher's article (default), `widget` inside our iframe. */
  placement?: 'inline' | 'widget';
  publisherId: string;
  /** The link an element stands for: its `data-strata-link`, else its `href` (or its first link's). */
  linkUrl?: (element: Element) => string | undefined;
}

/** What an impression or click event carries besides the client's own fields (a type: assignable to the generated one). */
export type ImpressionFields = {
  event: 'impression' | 'click';
  publisher_id: string;
  placement: 'inline' | 'widget';
  link_url: string;
  page_url: string;
  visible_ratio?: number;
  visible_ms?: number;
};

export class ImpressionOptionsError extends Error {
  override name = 'ImpressionOptionsError';
}

export function defaultLinkUrl(element: Element): string | undefined {
  const declared = element.getAttribute('data-strata-link');
  if (declared) return declared;
  const link = element.closest('a[href]') ?? element.querySelector('a[href]');
  return (link as HTMLAnchorElement | null)?.href || undefined;
}

/** The ratios IntersectionObserver reports at: the threshold itself, and steps for `visible_ratio`. */
const thresholdsFor = (threshold: number) => [...new Set([0, 0.25, 0.5, 0.75, 1, threshold])].sort((a, b) => a - b);

export function observeImpressions(
  target: ElementTarget,
  options: ImpressionOptions,
  emit: (fields: ImpressionFields) => void,
  parent?: ParentVisibility,
): Observation {
  const { threshold = 0.5, minVisibleMs = 1000, placement = parent ? 'widget' : 'inline', publisherId, linkUrl = defaultLinkUrl } = options;
  if (!(threshold > 0 && threshold <= 1)) throw new ImpressionOptionsError(`threshold must be above 0 and at most 1, got ${threshold}`);
  if (!(minVisibleMs >= 0 && minVisibleMs <= 3_600_000)) throw new ImpressionOptionsError(`minVisibleMs must be from 0 to 3600000, got ${minVisibleMs}`);
  if (typeof publisherId !== 'string' || publisherId === '') throw new ImpressionOptionsError('publisherId must be a non-empty string');
  if (placement !== 'inline' && placement !== 'widget') throw new ImpressionOptionsError('placement must be "inline" or "widget"');

  const elements = resolveElements(target);
  const own = new Map<Element, number>();
  const fields = (element: Element, event: 'impression' | 'click'): ImpressionFields | undefined => {
    const link = linkUrl(element);
    if (!link) return undefined;
    const page = parent?.pageUrl() ?? location.href;
    return { event, publisher_id: publisherId, placement, link_url: clip(link, 2048), page_url: clip(page, 2048) };
  };
  const dwell = createDwellTracker<Element>({
    threshold,
    minVisibleMs,
    onSeen(element, seen) {
      const base = fields(element, 'impression');
      if (base) emit({ ...base, visible_ratio: Math.round(seen.visibleRatio * 1000) / 1000, visible_ms: seen.visibleMs });
    },
  });
  const evaluate = (element: Element) => {
    let ratio = document.visibilityState === 'hidden' ? 0 : (own.get(element) ?? 0);
    if (ratio > 0 && parent) ratio = Math.min(ratio, parent.ratioOf(element.getBoundingClientRect()));
    dwell.update(element, ratio);
  };
  const evaluateAll = () => elements.forEach(evaluate);

  const cleanups: Array<() => void> = [];
  if (hasIntersectionObserver()) {
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          own.set(entry.target, entry.isIntersecting ? entry.intersectionRatio : 0);
          evaluate(entry.target);
        }
      },
      { threshold: thresholdsFor(threshold) },
    );
    elements.forEach((element) => observer.observe(element));
    cleanups.push(() => observer.disconnect());
  } else {
    // Feature detection (seed 003: Safari's IntersectionObserver came late): measure instead.
    const measure = () => {
      for (const element of elements) {
        own.set(element, visibleRatio(element.getBoundingClientRect(), viewportBox()));
        evaluate(element);
      }
    };
    cleanups.push(onViewportChange(measure));
    measure();
  }

  document.addEventListener('visibilitychange', evaluateAll);
  cleanups.push(() => document.removeEventListener('visibilitychange', evaluateAll));
  if (parent) cleanups.push(parent.subscribe(evaluateAll));

  // Every click counts (not once like an impression); a middle click opens the link too.
  const onClick = (event: Event) => {
    if (event.type === 'auxclick' && (event as MouseEvent).button !== 1) return;
    const base = fields(event.currentTarget as Element, 'click');
    if (base) emit(base);
  };
  for (const element of elements) {
    element.addEventListener('click', onClick);
    element.addEventListener('auxclick', onClick);
  }
  cleanups.push(() => {
    for (const element of elements) {
      element.removeEventListener('click', onClick);
      element.removeEventListener('auxclick', onClick);
    }
  });

  return {
    disconnect() {
      dwell.stop();
      cleanups.splice(0).forEach((cleanup) => cleanup());
    },
  };
}
