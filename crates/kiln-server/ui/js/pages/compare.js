// Compare runs (`/compare?runs=a,b,c`): a summary, the parameter diff table,
// latest metrics side by side, overlaid metric charts, a parallel-coordinates
// plot and a scatter of any param or metric against any other.

import * as api from '../api.js';
import { h, mount, errorBox, loading, empty, title, statusBadge } from '../dom.js';
import { fmtTime, fmtDuration, fmtNum } from '../format.js';
import { colorOf } from '../state.js';
import { createMetricCharts } from '../components/metriccharts.js';
import { parallelCoordinates } from '../charts/parallel.js';
import { scatterPlot } from '../charts/scatter.js';

const MAX_RUNS = 100;

/** Rows `[key, values[], differs]` for the union of keys; values by run. */
export function diffRows(runs, pick) {
  const keys = new Set();
  for (const r of runs) for (const kv of pick(r)) keys.add(kv.key);
  return [...keys].sort().map((k) => {
    const values = runs.map((r) => {
      const kv = pick(r).find((x) => x.key === k);
      return kv ? kv.value : undefined;
    });
    const differs = new Set(values.map((v) => (v === undefined ? '\u0000missing' : String(v)))).size > 1;
    return [k, values, differs];
  });
}

function numeric(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}

export async function render(root, _params, query) {
  title('Compare runs');
  const ids = [...new Set((query.get('runs') || '').split(',').map((s) => s.trim()).filter(Boolean))];
  if (ids.length === 0) {
    mount(root, h('h1', 'Compare runs'), empty('No runs selected', 'Select runs in an experiment’s table, then press Compare.'));
    return undefined;
  }
  if (ids.length > MAX_RUNS) {
    mount(root, h('h1', 'Compare runs'), errorBox(new Error(`${ids.length} runs were given; compare at most ${MAX_RUNS} at once.`), 'Too many runs'));
    return undefined;
  }
  mount(root, loading(`Loading ${ids.length} runs…`));
  const results = await Promise.all(ids.map((id) => api.get('/mlflow/runs/get', { run_id: id }).then((r) => r.run).catch((e) => ({ error: e, id }))));
  const missing = results.filter((r) => r.error);
  const found = results.filter((r) => !r.error);
  const other = missing.filter((m) => m.error.status !== 404);
  if (!found.length) {
    mount(root, h('h1', 'Compare runs'),
      other.length ? errorBox(other[0].error, 'Could not load the runs')
        : empty('None of these runs exist', h('p.mono', missing.map((m) => m.id).join(', '))));
    return undefined;
  }
  const runs = found.map((r, i) => ({ run: r, id: r.info.run_id, name: r.info.run_name || r.info.run_id, color: colorOf(i), start: r.info.start_time }));
  const expIds = [...new Set(found.map((r) => r.info.experiment_id))];
  const exps = new Map(await Promise.all(expIds.map((e) => api.get('/mlflow/experiments/get', { experiment_id: e }).then((r) => [e, r.experiment.name]).catch(() => [e, e]))));

  const paramRows = diffRows(found, (r) => r.data.params || []);
  const metricRows = diffRows(found, (r) => (r.data.metrics || []).map((m) => ({ key: m.key, value: api.toNumber(m.value) })));
  const onlyDiff = h('input', { type: 'checkbox', checked: paramRows.length > 10, 'data-control': 'only-differences' });
  const paramBox = h('div');
  const drawParams = () => {
    const rows = onlyDiff.checked ? paramRows.filter((r) => r[2]) : paramRows;
    if (!paramRows.length) { mount(paramBox, h('p.muted', 'None of these runs logged parameters.')); return; }
    if (!rows.length) { mount(paramBox, h('p.muted', 'All parameters are the same in every run.')); return; }
    mount(paramBox, h('div.table-scroll', h('table.data', { 'data-testid': 'param-diff' },
      h('thead', h('tr', h('th', 'Parameter'), runs.map((r) => h('th', h('span.swatch', { style: { background: r.color } }), r.name)))),
      h('tbody', rows.map(([k, values, differs]) => h('tr', { 'data-differs': differs ? 'true' : 'false' },
        h('td.mono', k),
        values.map((v) => h(differs ? 'td.diff.mono' : 'td.mono', v === undefined ? h('span.muted', '—') : v))))))));
  };
  onlyDiff.addEventListener('change', drawParams);
  drawParams();

  const metricTable = metricRows.length
    ? h('div.table-scroll', h('table.data', { 'data-testid': 'metric-compare' },
      h('thead', h('tr', h('th', 'Metric (latest)'), runs.map((r) => h('th.num', h('span.swatch', { style: { background: r.color } }), r.name)))),
      h('tbody', metricRows.map(([k, values]) => {
        const nums = values.filter((v) => Number.isFinite(v));
        const lo = Math.min(...nums);
        const hi = Math.max(...nums);
        return h('tr', h('td.mono', k), values.map((v) => h(`td.num${nums.length > 1 && (v === lo || v === hi) ? '.best' : ''}`,
          { title: v === lo && nums.length > 1 ? 'lowest' : v === hi && nums.length > 1 ? 'highest' : undefined }, v === undefined ? h('span.muted', '—') : fmtNum(v))));
      }))))
    : h('p.muted', 'None of these runs logged metrics.');

  // Axes for the parallel-coordinates and scatter plots: differing params, then metrics.
  const choices = [
    ...paramRows.map(([k, values]) => ({ id: `params.${k}`, label: k, values: values.map((v) => (v === undefined ? null : numeric(v))) })),
    ...metricRows.map(([k, values]) => ({ id: `metrics.${k}`, label: k, values: values.map((v) => (v === undefined ? null : v)) })),
  ];
  const defaultAxes = [
    ...choices.filter((c) => c.id.startsWith('params.') && paramRows.find((r) => `params.${r[0]}` === c.id)[2]).slice(0, 6),
    ...choices.filter((c) => c.id.startsWith('metrics.')).slice(0, 3),
  ];
  const chosen = new Set(defaultAxes.map((c) => c.id));
  const pcBox = h('div', { 'data-testid': 'parallel' });
  const pcPicker = h('details', h('summary', 'Choose axes'), h('div.col-picker', choices.map((c) => h('label',
    h('input', { type: 'checkbox', checked: chosen.has(c.id), onchange: (e) => { if (e.target.checked) chosen.add(c.id); else chosen.delete(c.id); drawPc(); } }),
    c.id))));
  const open = (r) => window.kilnNavigate(`/runs/${encodeURIComponent(r.id)}`);
  const drawPc = () => {
    const axes = choices.filter((c) => chosen.has(c.id));
    parallelCoordinates(pcBox, { axes, runs, onOpen: open });
  };

  const sel = (label, def) => {
    const s = h('select', { 'aria-label': label }, choices.map((c) => h('option', { value: c.id, selected: c.id === def }, c.id)));
    return s;
  };
  const firstParam = choices.find((c) => c.id.startsWith('params.'));
  const firstMetric = choices.find((c) => c.id.startsWith('metrics.'));
  const xSel = sel('Scatter x axis', (firstParam || choices[0] || {}).id);
  const ySel = sel('Scatter y axis', (firstMetric || choices[1] || choices[0] || {}).id);
  const scBox = h('div', { 'data-testid': 'scatter' });
  const drawScatter = () => {
    const cx = choices.find((c) => c.id === xSel.value);
    const cy = choices.find((c) => c.id === ySel.value);
    if (!cx || !cy) { mount(scBox, h('p.muted', 'Nothing to plot: these runs logged no params or metrics.')); return; }
    scatterPlot(scBox, {
      xLabel: cx.id, yLabel: cy.id, onOpen: open,
      points: runs.map((r, i) => ({ x: cx.values[i], y: cy.values[i], label: r.name, color: r.color, run: r })),
    });
  };
  xSel.addEventListener('change', drawScatter);
  ySel.addEventListener('change', drawScatter);

  const metricKeys = metricRows.map((r) => r[0]);
  const charts = createMetricCharts({ runs, keys: metricKeys, title: 'Overlaid metrics' });

  mount(root,
    h('div.crumbs', h('a', { href: '/experiments' }, 'Experiments'), ' / compare'),
    h('h1', `Comparing ${runs.length} run${runs.length === 1 ? '' : 's'}`),
    missing.length ? h('div.error-box', { role: 'alert' }, h('strong', `${missing.length} run${missing.length === 1 ? '' : 's'} could not be loaded: `),
      missing.map((m) => `${m.id} (${m.error.message})`).join('; ')) : null,
    h('div.panel', h('div.table-scroll', h('table.data', { 'data-testid': 'compare-runs' },
      h('thead', h('tr', ['Run', 'Experiment', 'Status', 'Started', 'Duration'].map((t) => h('th', t)))),
      h('tbody', runs.map((r) => h('tr',
        h('td', h('span.swatch', { style: { background: r.color } }), h('a', { href: `/runs/${encodeURIComponent(r.id)}` }, r.name)),
        h('td', h('a', { href: `/experiments/${encodeURIComponent(r.run.info.experiment_id)}` }, exps.get(r.run.info.experiment_id))),
        h('td', statusBadge(r.run.info.status)),
        h('td', fmtTime(r.start)),
        h('td', r.run.info.end_time ? fmtDuration(r.run.info.end_time - r.start) : ''))))))),
    h('div.panel', h('div.page-head', h('h2.grow', `Parameters (${paramRows.length}, ${paramRows.filter((r) => r[2]).length} differ)`), h('label.check', onlyDiff, 'Only differences')), paramBox),
    h('div.panel', h('h2', `Metrics (${metricRows.length})`), metricTable),
    h('h2', 'Metric charts'),
    charts.el,
    h('div.panel', h('h2', 'Parallel coordinates'), pcPicker, pcBox),
    h('div.panel', h('h2', 'Scatter'), h('div.toolbar', h('label.check', 'x ', xSel), h('label.check', 'y ', ySel)), scBox));
  drawPc();
  drawScatter();
  const onResize = () => { drawPc(); drawScatter(); };
  let t = 0;
  const resize = () => { clearTimeout(t); t = setTimeout(onResize, 200); };
  window.addEventListener('resize', resize);
  return () => { charts.destroy(); window.removeEventListener('resize', resize); };
}
