// Scales, ticks, smoothing and theme colours shared by the charts.

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  if (min > max) [min, max] = [max, min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
  const first = Math.ceil(min / step) * step;
  const out = [];
  for (let v = first; v <= max + step * 1e-9 && out.length < 50; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Powers of ten (with 2 and 5 when the range is short) within [min, max], both > 0. */
export function logTicks(min, max) {
  if (!(min > 0) || !(max > 0)) return [];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const out = [];
  const mult = hi - lo <= 2 ? [1, 2, 5] : [1];
  for (let e = lo; e <= hi; e++) {
    for (const m of mult) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
    }
  }
  if (out.length > 10) return out.filter((_, i) => i % Math.ceil(out.length / 8) === 0);
  return out;
}

/** A scale mapping [d0, d1] onto [r0, r1], linear or base-10 logarithmic. */
export function scale(d0, d1, r0, r1, log = false) {
  if (log) {
    const l0 = Math.log10(d0);
    const l1 = Math.log10(d1);
    const k = l1 === l0 ? 0 : (r1 - r0) / (l1 - l0);
    const f = (v) => (v > 0 ? r0 + (Math.log10(v) - l0) * k : NaN);
    f.invert = (p) => 10 ** (l0 + (k ? (p - r0) / k : 0));
    return f;
  }
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const f = (v) => r0 + (v - d0) * k;
  f.invert = (p) => d0 + (k ? (p - r0) / k : 0);
  return f;
}

/**
 * Exponential moving average with debiasing (as TensorBoard's smoothing slider):
 * `weight` in [0, 1); NaN values stay NaN and do not disturb the average.
 */
export function smooth(ys, weight) {
  if (!(weight > 0)) return ys;
  const out = new Float64Array(ys.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) { out[i] = y; continue; }
    last = last * weight + (1 - weight) * y;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/** Index of the point nearest to `x` in sorted `xs`. */
export function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) return lo - 1;
  return lo;
}

/** First index with xs[i] >= x in sorted `xs`. */
export function lowerBound(xs, x) {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** A CSS custom property of the document (theme colours). */
export function cssVar(name, fallback = '#888') {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** Blue -> orange colour ramp for t in [0, 1]. */
export function ramp(t) {
  if (!Number.isFinite(t)) return '#999999';
  t = Math.max(0, Math.min(1, t));
  const a = [49, 104, 180];
  const m = [120, 180, 120];
  const b = [230, 110, 40];
  const mix = (p, q, u) => p.map((c, i) => Math.round(c + (q[i] - c) * u));
  const c = t < 0.5 ? mix(a, m, t * 2) : mix(m, b, (t - 0.5) * 2);
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** SVG element helper. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
