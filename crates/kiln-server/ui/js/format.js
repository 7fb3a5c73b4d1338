// Formatting of times, durations, numbers and sizes for display.

const pad = (n) => String(n).padStart(2, '0');

/** `2024-05-01 14:03:22` in local time; '' for missing. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms)) || Number(ms) <= 0) return '';
  const d = new Date(Number(ms));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `5 min ago`, `3 days ago`. */
export function fmtAgo(ms, now = Date.now()) {
  if (!ms || !Number.isFinite(Number(ms))) return '';
  const s = Math.round((now - Number(ms)) / 1000);
  if (s < 0) return 'just now';
  if (s < 45) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 60) return `${Math.round(s / 86400)} days ago`;
  return fmtTime(ms).slice(0, 10);
}

/** `1.2 s`, `4 min 5 s`, `2 h 3 min`. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m - hrs * 60} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

/** A metric value: up to 6 significant digits, exponent for very small/large values. */
export function fmtNum(v) {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v === 'string') {
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v;
    v = Number(v);
  }
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/** A short axis label for a tick value. */
export function fmtTick(v) {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** `12.3 KB`. */
export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '';
  n = Number(n);
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { n /= 1024; i += 1; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtCount(n) {
  return Number(n || 0).toLocaleString('en-US');
}

/** `abc123…` for long ids. */
export function shortId(id, n = 8) {
  return id && id.length > n ? `${id.slice(0, n)}…` : id || '';
}
