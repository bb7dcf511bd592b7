import { hasIntersectionObserver, onViewportChange, resolveElements, viewportBox, type ElementTarget, type Observation } from './elements.js';
import { FRAME_HELLO, FRAME_VISIBILITY, isFrameHello, parseFrameVisibility, visibleInParent, type FrameVisibility } from './frame-messages.js';
import { frameVisibleBox, intersect, visibleRatio, type Box } from './geometry.js';

/** The page side: measures our widget iframes and tells each what of it the user sees. */
export function observeFrames(target: ElementTarget, options: { origin?: string } = {}): Observation {
  const frames = resolveElements(target).filter((el): el is HTMLIFrameElement => el.tagName === 'IFRAME');
  const last = new Map<HTMLIFrameElement, FrameVisibility>();
  const originOf = (frame: HTMLIFrameElement) => options.origin ?? new URL(frame.src, location.href).origin;

  const post = (frame: HTMLIFrameElement) => {
    const message = last.get(frame);
    try {
      // targetOrigin: the browser drops the message unless the iframe holds a document of that
      // origin (not yet loaded, or navigated elsewhere), so only our widget ever reads it.
      if (message) frame.contentWindow?.postMessage(message, originOf(frame));
    } catch {
      // An iframe without a real origin (about:blank, srcdoc: "null") cannot be addressed.
    }
  };
  const measure = (frame: HTMLIFrameElement, visible?: Box) => {
    const rect = frame.getBoundingClientRect();
    const shown = visible ?? intersect(rect, viewportBox());
    const ratio = document.visibilityState === 'hidden' ? 0 : visibleRatio(rect, shown);
    const box = ratio === 0 ? null : frameVisibleBox(shown, rect, { left: frame.clientLeft, top: frame.clientTop });
    const previous = last.get(frame);
    if (previous && previous.ratio === ratio && JSON.stringify(previous.box) === JSON.stringify(box)) return;
    last.set(frame, { type: FRAME_VISIBILITY, ratio, box, pageUrl: location.href });
    post(frame);
  };

  const cleanups: Array<() => void> = [];
  const useObserver = hasIntersectionObserver();
  if (useObserver) {
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          // intersectionRect accounts for clipping by scrolling ancestors, which a rect cannot.
          const none = { top: 0, left: 0, bottom: 0, right: 0 };
          measure(entry.target as HTMLIFrameElement, entry.isIntersecting ? entry.intersectionRect : none);
        }
      },
      { threshold: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1] },
    );
    frames.forEach((frame) => observer.observe(frame));
    cleanups.push(() => observer.disconnect());
  }
  // The observer reports threshold crossings only; while an iframe is partly visible its visible
  // part moves with every scroll, and without an observer every measurement comes from here.
  cleanups.push(
    onViewportChange(() => {
      for (const frame of frames) {
        const ratio = last.get(frame)?.ratio;
        if (!useObserver || (ratio !== undefined && ratio > 0 && ratio < 1)) measure(frame);
      }
    }),
  );
  if (!useObserver) frames.forEach((frame) => measure(frame));

  // A message posted before the iframe's document loaded went nowhere; send it again after load.
  const onLoad = (event: Event) => post(event.currentTarget as HTMLIFrameElement);
  frames.forEach((frame) => frame.addEventListener('load', onLoad));
  cleanups.push(() => frames.forEach((frame) => frame.removeEventListener('load', onLoad)));

  const onVisibility = () => frames.forEach((frame) => measure(frame));
  document.addEventListener('visibilitychange', onVisibility);
  cleanups.push(() => document.removeEventListener('visibilitychange', onVisibility));
  // The widget's SDK says hello when it starts: our earlier messages may have reached no listener.
  const onMessage = (event: MessageEvent) => {
    if (!isFrameHello(event.data)) return;
    const frame = frames.find((f) => f.contentWindow === event.source && event.origin === originOf(f));
    if (frame) post(frame);
  };
  addEventListener('message', onMessage);
  cleanups.push(() => removeEventListener('message', onMessage));

  return { disconnect: () => cleanups.splice(0).forEach((cleanup) => cleanup()) };
}

/** The iframe side: what the parent page last said of this iframe. */
export interface ParentVisibility {
  /** The share of an element (its rect in this iframe) that the parent shows; 0 before the first message. */
  ratioOf(rect: Box): number;
  /** The publisher's page, once the parent said it. */
  pageUrl(): string | undefined;
  /** Calls `listener` after every accepted message; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
  stop(): void;
}

/** Listens to the parent page at one of `origins` (the publishers allowed to embed the widget). */
export function listenToParent(origins: readonly string[]): ParentVisibility {
  let latest: FrameVisibility | undefined;
  const listeners = new Set<() => void>();
  const onMessage = (event: MessageEvent) => {
    // Only our direct parent, and only from an origin we were told to trust.
    if (event.source !== parent || !origins.includes(event.origin)) return;
    const message = parseFrameVisibility(event.data);
    if (!message) return;
    latest = message;
    listeners.forEach((listener) => listener());
  };
  addEventListener('message', onMessage);
  for (const origin of origins) {
    try {
      parent.postMessage({ type: FRAME_HELLO }, origin);
    } catch {
      // Not a valid origin string: nothing to greet.
    }
  }
  return {
    ratioOf: (rect) => visibleInParent(rect, latest),
    pageUrl: () => latest?.pageUrl,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      removeEventListener('message', onMessage);
      listeners.clear();
    },
  };
}
