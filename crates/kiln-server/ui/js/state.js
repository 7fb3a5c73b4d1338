// Preferences kept in localStorage (theme, runs-table columns per experiment).
// Storage can be unavailable (private mode, quotas): every access is guarded and
// falls back to the default.

const PREFIX = 'kiln.';

export function load(key, fallback) {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

export function save(key, value) {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Not persisted; the in-page state still holds.
  }
}

export function remove(key) {
  try { localStorage.removeItem(PREFIX + key); } catch { /* nothing to do */ }
}

/** The chart palette (distinct in light and dark themes). */
export const PALETTE = [
  '#1f77b4', '#e6550d', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f',
  '#3182bd', '#fd8d3c', '#74c476', '#fb6a4a', '#9e9ac8',
];

export function colorOf(i) {
  return PALETTE[i % PALETTE.length];
}
