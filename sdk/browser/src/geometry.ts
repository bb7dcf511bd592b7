/** Rectangles as `getBoundingClientRect()` and IntersectionObserver give them (CSS pixels). */
export interface Box {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

const area = (b: Box) => Math.max(0, b.right - b.left) * Math.max(0, b.bottom - b.top);

export function intersect(a: Box, b: Box): Box {
  return { top: Math.max(a.top, b.top), left: Math.max(a.left, b.left), bottom: Math.min(a.bottom, b.bottom), right: Math.min(a.right, b.right) };
}

/** The share of `target` inside `visible`, 0 to 1; an element with no area is never visible. */
export function visibleRatio(target: Box, visible: Box): number {
  const own = area(target);
  return own === 0 ? 0 : Math.min(1, area(intersect(target, visible)) / own);
}

/**
 * The part of an iframe the parent page's viewport shows, in the iframe's own viewport coordinates
 * (what `getBoundingClientRect()` inside the iframe measures against): the intersection moved by
 * the iframe's position and its border. Null when none of it shows.
 */
export function frameVisibleBox(intersection: Box, frame: Box, border: { left: number; top: number }): Box | null {
  if (area(intersection) === 0) return null;
  const dx = frame.left + border.left;
  const dy = frame.top + border.top;
  return { top: intersection.top - dy, left: intersection.left - dx, bottom: intersection.bottom - dy, right: intersection.right - dx };
}

/** Runs `fn` at most once per `ms`, the last call always included (for scroll and resize handlers). */
export function throttle(fn: () => void, ms: number): () => void {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
    } else if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        fn();
      }, wait);
    }
  };
}
