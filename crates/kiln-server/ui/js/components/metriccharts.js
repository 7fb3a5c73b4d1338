// A grid of metric charts for one run (run page) or several (compare, overlaid):
// one chart per metric key against step, relative time or wall time, with log
// scale, smoothing and a key search. Each chart loads when it scrolls into view
// and asks the server for a history downsampled to about its own width; zooming
// asks again for the zoomed range, so detail appears as you zoom in.

import * as api from '../api.js';
import { h, mount } from '../dom.js';
import { fmtTime, fmtTick, fmtCount } from '../format.js';
import { LineChart } from '../charts/line.js';

/** Charts loaded without waiting to be scrolled into view. */
const EAGER = 6;

const AXES = [
  ['step', 'Step'],
  ['relative', 'Relative time'],
  ['wall', 'Wall time'],
];

function fmtSeconds(s) {
  if (!Number.isFinite(s)) return '';
  const a = Math.abs(s);
  if (a < 120) return `${fmtTick(s)} s`;
  if (a < 7200) return `${fmtTick(s / 60)} min`;
  return `${fmtTick(s / 3600)} h`;
}

function fmtClock(ms) {
  return fmtTime(ms).slice(11) || '';
}

/**
 * `runs`: `[{ id, name, start, color }]`; `keys`: metric keys; `focus`: a key to scroll to.
 * Returns `{ el, destroy() }`.
 */
export function createMetricCharts({ runs, keys, focus = '', title = 'Metrics' }) {
  const state = { axis: 'step', logY: false, smoothing: 0, q: '' };
  const charts = new Map();
  const axisSel = h('select', { 'aria-label': 'X axis' }, AXES.map(([v, l]) => h('option', { value: v }, l)));
  const logBox = h('input', { type: 'checkbox', 'data-control': 'log-scale' });
  const smoothRange = h('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: '0', 'aria-label': 'Smoothing' });
  const smoothVal = h('span.mono', '0');
  const search = h('input', { type: 'search', placeholder: 'Search metrics', 'aria-label': 'Search metrics', style: { width: '200px' } });
  const grid = h('div.chart-grid');
  const legend = runs.length > 1
    ? h('div.legend', runs.map((r) => h('span', h('span.swatch', { style: { background: r.color } }), r.name)))
    : null;
  const el = h('section', { 'aria-label': title },
    h('div.chart-controls',
      h('label.check', 'X axis ', axisSel),
      h('label.check', logBox, 'Log scale (y)'),
      h('label.check', 'Smoothing ', smoothRange, smoothVal),
      search,
      h('span.muted', 'Drag to zoom, double-click to reset; focus a chart for + / − / arrows.')),
    legend,
    grid);

  const observer = new IntersectionObserver((entries) => {
    for (const en of entries) {
      if (en.isIntersecting) {
        const c = charts.get(en.target.dataset.key);
        if (c && !c.loaded) load(c, null);
      }
    }
  }, { rootMargin: '200px' });

  function xFormat() {
    return state.axis === 'step' ? fmtTick : state.axis === 'relative' ? fmtSeconds : fmtClock;
  }

  function xName() {
    return state.axis === 'step' ? 'step' : state.axis === 'relative' ? 'time' : 'wall time';
  }

  function build() {
    observer.disconnect();
    for (const c of charts.values()) c.chart.destroy();
    charts.clear();
    const q = state.q.toLowerCase();
    const shown = keys.filter((k) => k.toLowerCase().includes(q));
    if (!keys.length) {
      mount(grid, h('div.empty', { style: { gridColumn: '1 / -1' } }, h('strong', 'No metrics logged'), 'Log one with mlflow.log_metric("loss", 0.5, step=1).'));
      return;
    }
    if (!shown.length) {
      mount(grid, h('div.empty', { style: { gridColumn: '1 / -1' } }, h('strong', `No metric matches “${state.q}”`)));
      return;
    }
    mount(grid);
    for (const key of shown) {
      const note = h('span.note');
      const box = h('div');
      const card = h('div.chart-card', { 'data-key': key, 'data-testid': 'chart-card' }, h('h3', key, note), box);
      grid.appendChild(card);
      const c = { key, card, note, loaded: false, seq: 0, axis: state.axis };
      c.chart = new LineChart(box, {
        label: `Chart of ${key}`,
        xFormat: xFormat(),
        onZoom: (d) => load(c, d),
        onReset: () => load(c, null),
        fullExtent: () => c.full || [0, 1],
      });
      c.chart.opts.xName = xName();
      c.chart.setOptions({ logY: state.logY, smoothing: state.smoothing });
      c.chart.setMessage('Loading…');
      charts.set(key, c);
      // The first charts load at once; the rest when they scroll into view.
      if (charts.size <= EAGER) load(c, null); else observer.observe(card);
    }
    if (focus && charts.has(focus)) {
      const c = charts.get(focus);
      requestAnimationFrame(() => c.card.scrollIntoView({ block: 'center' }));
      focus = '';
    }
  }

  async function fetchSeries(key, axis, zoom, width) {
    const maxPoints = Math.max(400, Math.min(8000, Math.round(width * 4)));
    const serverAxis = axis === 'step' ? 'step' : 'time';
    const toX = (run, step, ts) => (axis === 'step' ? step : axis === 'relative' ? (ts - run.start) / 1000 : ts);
    const requests = [];
    if (zoom && axis === 'relative') {
      for (const run of runs) {
        requests.push({ runs: [run], start: Math.floor(run.start + zoom[0] * 1000), end: Math.ceil(run.start + zoom[1] * 1000) });
      }
    } else {
      for (let i = 0; i < runs.length; i += 100) {
        requests.push({ runs: runs.slice(i, i + 100), start: zoom ? Math.floor(zoom[0]) : undefined, end: zoom ? Math.ceil(zoom[1]) : undefined });
      }
    }
    const results = await Promise.all(requests.map((r) => api.get('/kiln/metrics/sampled', {
      run_ids: r.runs.map((x) => x.id), metric_keys: [key], x_axis: serverAxis, max_points: maxPoints, start: r.start, end: r.end,
    })));
    const byRun = new Map(runs.map((r) => [r.id, r]));
    const series = [];
    let total = 0;
    let sampled = false;
    for (const res of results) {
      for (const s of res.series || []) {
        const run = byRun.get(s.run_id);
        if (!run || !s.steps.length) continue;
        total += s.total;
        sampled = sampled || s.sampled;
        const n = s.steps.length;
        const xs = new Float64Array(n);
        const ys = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          xs[i] = toX(run, s.steps[i], s.timestamps[i]);
          ys[i] = api.toNumber(s.values[i]);
        }
        series.push({ label: run.name, color: run.color, xs, ys, steps: s.steps });
      }
    }
    return { series, total, sampled };
  }

  async function load(c, zoom) {
    c.loaded = true;
    const seq = ++c.seq;
    const width = c.chart.el.clientWidth || 400;
    let axis = state.axis;
    try {
      let res = await fetchSeries(c.key, axis, zoom, width);
      // A history logged at one step only (log_metric without step) is shown against time.
      if (!zoom && axis === 'step' && res.series.length && res.series.every((s) => s.xs.length > 1 && s.xs[0] === s.xs[s.xs.length - 1])) {
        axis = 'relative';
        res = await fetchSeries(c.key, axis, null, width);
        c.forcedAxis = true;
      }
      if (seq !== c.seq) return;
      c.axis = axis;
      c.chart.opts.xFormat = axis === 'step' ? fmtTick : axis === 'relative' ? fmtSeconds : fmtClock;
      c.chart.opts.xName = axis === 'step' ? 'step' : axis === 'relative' ? 'time' : 'wall time';
      if (!res.series.length) {
        c.chart.setSeries([]);
        c.chart.setMessage(zoom ? 'No points in this range (double-click to reset)' : 'No data');
        c.note.textContent = '';
        return;
      }
      if (!zoom) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const s of res.series) { lo = Math.min(lo, s.xs[0]); hi = Math.max(hi, s.xs[s.xs.length - 1]); }
        c.full = [lo, hi];
      }
      c.chart.setSeries(res.series);
      const shown = res.series.reduce((a, s) => a + s.xs.length, 0);
      c.note.textContent = `${res.sampled ? `${fmtCount(shown)} of ${fmtCount(res.total)} points (downsampled)` : `${fmtCount(res.total)} point${res.total === 1 ? '' : 's'}`}${c.forcedAxis ? ' · one step, shown against time' : ''}`;
    } catch (e) {
      if (seq !== c.seq) return;
      c.chart.setMessage(`Could not load ${c.key}: ${e.message}`);
    }
  }

  axisSel.addEventListener('change', () => { state.axis = axisSel.value; build(); });
  logBox.addEventListener('change', () => {
    state.logY = logBox.checked;
    for (const c of charts.values()) c.chart.setOptions({ logY: state.logY });
  });
  smoothRange.addEventListener('input', () => {
    state.smoothing = Number(smoothRange.value);
    smoothVal.textContent = smoothRange.value;
    for (const c of charts.values()) c.chart.setOptions({ smoothing: state.smoothing });
  });
  let t = 0;
  search.addEventListener('input', () => { clearTimeout(t); t = setTimeout(() => { state.q = search.value; build(); }, 150); });

  build();
  return {
    el,
    destroy() {
      observer.disconnect();
      for (const c of charts.values()) c.chart.destroy();
    },
  };
}
