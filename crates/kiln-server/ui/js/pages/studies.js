// Hyperparameter-optimisation studies (`kiln tune`, `kiln study`, the studies API):
// the list of studies, and a study's page with the optimisation history (each
// trial's value and the best so far, per objective), parameter importances, the
// Pareto front of a multi-objective study, intermediate values, parallel
// coordinates of params against the objectives, and the trial table with states,
// values and intermediate values, each trial linked to its MLflow child run. A
// study with running or waiting trials refreshes itself.

import * as api from '../api.js';
import { h, mount, errorBox, loading, empty, title } from '../dom.js';
import { fmtTime, fmtAgo, fmtDuration, fmtNum, fmtCount, fmtTick } from '../format.js';
import { colorOf } from '../state.js';
import { LineChart } from '../charts/line.js';
import { parallelCoordinates } from '../charts/parallel.js';
import { scatterPlot } from '../charts/scatter.js';
import { svg } from '../charts/scale.js';

const enc = encodeURIComponent;
const BASE = '/kiln/studies';
/** Trial states, in the order the page lists them. */
export const STATES = ['COMPLETE', 'PRUNED', 'FAIL', 'RUNNING', 'WAITING'];
const STATE_COLOR = { COMPLETE: '#1f77b4', PRUNED: '#e6550d', FAIL: '#d62728', RUNNING: '#9467bd', WAITING: '#7f7f7f' };
const FRONT_COLOR = '#e6550d';
const DOMINATED_COLOR = '#9aa0a6';
/** Trial rows shown at first (and added per "Show more"). */
const PAGE = 200;
const POLL_MS = 5000;

export async function render(root, params, query) {
  if (params.name === undefined) return renderList(root, query);
  return renderStudy(root, params.name);
}

// ------------------------------------------------------------------ helpers

/** The objectives' names: the study's `metrics`, else `value` / `value_0`, `value_1`... */
export function metricNames(study) {
  const n = (study.directions || []).length || 1;
  const m = study.metrics || [];
  return Array.from({ length: n }, (_, i) => m[i] || (n === 1 ? 'value' : `value_${i}`));
}

/** `loss ↓` / `accuracy ↑`. */
function objectiveLabel(metric, direction) {
  return `${metric} ${direction === 'maximize' ? '↑' : '↓'}`;
}

/** A value from the API: a number, or NaN for null / "NaN" / missing. */
function num(v) {
  return v === null || v === undefined ? NaN : api.toNumber(v);
}

/** Whether `a` is better than `b` in `direction`. */
function better(a, b, direction) {
  return direction === 'maximize' ? a > b : a < b;
}

/**
 * The optimisation history of objective `k`: the numbers of the COMPLETE trials
 * (`xs`), their values (`ys`) and the best value so far at each (`best`).
 */
export function optimisationHistory(trials, k, direction) {
  const xs = [];
  const ys = [];
  const best = [];
  let b = NaN;
  for (const t of trials) {
    if (t.state !== 'COMPLETE' || !Array.isArray(t.values)) continue;
    const v = num(t.values[k]);
    if (!Number.isFinite(v)) continue;
    if (!Number.isFinite(b) || better(v, b, direction)) b = v;
    xs.push(t.number);
    ys.push(v);
    best.push(b);
  }
  return { xs, ys, best };
}

/** A trial's intermediate values as `[[step, value], ...]` by step. */
export function intermediate(t) {
  return Object.entries(t.intermediate_values || {})
    .map(([s, v]) => [Number(s), num(v)])
    .filter(([s]) => Number.isFinite(s))
    .sort((a, b) => a[0] - b[0]);
}

/** The union of the trials' parameter names, sorted. */
export function paramNames(trials) {
  const names = new Set();
  for (const t of trials) for (const k of Object.keys(t.params || {})) names.add(k);
  return [...names].sort();
}

function fmtParam(v) {
  if (v === undefined || v === null) return h('span.muted', { title: 'not used by this trial (conditional parameter)' }, '—');
  if (typeof v === 'number') return fmtNum(v);
  return String(v);
}

/** A sampler or pruner setting: `tpe (n_startup_trials=5)`. */
function fmtConfig(c) {
  if (!c) return '';
  if (typeof c === 'string') return c;
  const opts = Object.entries(c).filter(([k]) => k !== 'kind').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`);
  return opts.length ? `${c.kind} (${opts.join(', ')})` : String(c.kind);
}

function trialState(state) {
  return h(`span.status.${STATES.includes(state) ? state : 'UNKNOWN'}`, state || '?');
}

function runLink(t, text = 'Run') {
  if (!t.run_id) return h('span.muted', '—');
  return h('a', { href: `/runs/${enc(t.run_id)}`, 'aria-label': `MLflow run of trial ${t.number}`, 'data-run-link': t.number }, text);
}

/** A tiny inline line of a trial's intermediate values. */
function sparkline(points, color) {
  const w = 64;
  const ht = 18;
  const vals = points.map((p) => p[1]).filter(Number.isFinite);
  if (points.length < 2 || !vals.length) return null;
  const x0 = points[0][0];
  const x1 = points[points.length - 1][0];
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const fx = (x) => (x1 === x0 ? w / 2 : ((x - x0) / (x1 - x0)) * (w - 2) + 1);
  const fy = (y) => (hi === lo ? ht / 2 : ht - 1 - ((y - lo) / (hi - lo)) * (ht - 2));
  let d = '';
  let pen = false;
  for (const [x, y] of points) {
    if (!Number.isFinite(y)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${fx(x).toFixed(1)},${fy(y).toFixed(1)}`;
    pen = true;
  }
  return svg('svg', { class: 'spark', width: w, height: ht, viewBox: `0 0 ${w} ${ht}`, 'aria-hidden': 'true' },
    svg('path', { d, stroke: color, fill: 'none', 'stroke-width': 1.4 }));
}

function crumbs(name) {
  return h('div.crumbs', h('a', { href: '/studies' }, 'Studies'), name !== undefined ? [' / ', name] : null);
}

/** Integer tick labels for trial numbers (fractional ticks are left blank). */
const fmtTrial = (v) => (Number.isInteger(Math.round(v * 1e6) / 1e6) ? fmtTick(Math.round(v)) : '');

// ------------------------------------------------------------------ list

async function renderList(root, query) {
  title('Studies');
  const search = h('input', {
    type: 'search', placeholder: 'Search studies by name', value: query.get('q') || '',
    'aria-label': 'Search studies by name', 'data-hotkey': '/', style: { width: '320px' },
  });
  const list = h('div');
  mount(root,
    h('div.page-head', h('div.grow', h('h1', 'Studies'),
      h('div.sub', 'Hyperparameter optimisation studies from ', h('code', 'kiln tune'), ', ', h('code', 'kiln study'), ' and the studies API. Open one to see its trials.'))),
    h('div.toolbar', search),
    list);
  mount(list, loading('Loading studies…'));
  let studies;
  try {
    studies = (await api.get(`${BASE}/list`)).studies || [];
  } catch (e) {
    mount(list, errorBox(e, 'Could not load the studies'));
    return undefined;
  }
  studies.sort((a, b) => (b.creation_time || 0) - (a.creation_time || 0) || a.name.localeCompare(b.name));
  const draw = () => {
    const q = search.value.trim();
    history.replaceState(null, '', `${location.pathname}${q ? `?q=${enc(q)}` : ''}`);
    if (!studies.length) {
      mount(list, empty('No studies yet',
        h('p', 'Tune a command as the objective:'),
        h('p', h('code', "kiln tune --objective-cmd 'python train.py' --space space.toml --trials 50 --study demo")),
        h('p', 'or create one with ', h('code', 'kiln study create'), ' or ', h('code', 'POST /api/2.0/kiln/studies/create'), '.')));
      return;
    }
    const shown = studies.filter((s) => s.name.toLowerCase().includes(q.toLowerCase()));
    if (!shown.length) {
      mount(list, empty(`No study matches “${q}”`, 'Try another search.'));
      return;
    }
    const count = (n, cls) => (n ? h(`span.status.${cls}`, fmtCount(n)) : h('span.muted', '0'));
    mount(list, h('div.table-scroll', h('table.data', { 'data-testid': 'studies' },
      h('thead', h('tr',
        ['Study', 'Objectives'].map((t) => h('th', { scope: 'col' }, t)),
        ['Trials', 'Complete', 'Pruned', 'Failed', 'Running', 'Waiting'].map((t) => h('th.num', { scope: 'col' }, t)),
        ['Sampler', 'Created', 'Experiment'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', shown.map((s) => {
        const metrics = metricNames(s);
        return h('tr', { 'data-study': s.name },
          h('td', h('a', { href: `/studies/${enc(s.name)}` }, s.name)),
          h('td', metrics.map((m, i) => h('span.chip', objectiveLabel(m, s.directions[i])))),
          h('td.num', fmtCount(s.n_trials)),
          h('td.num', count(s.n_complete, 'COMPLETE')),
          h('td.num', count(s.n_pruned, 'PRUNED')),
          h('td.num', count(s.n_fail, 'FAIL')),
          h('td.num', count(s.n_running, 'RUNNING')),
          h('td.num', count(s.n_waiting, 'WAITING')),
          h('td', fmtConfig(s.sampler)),
          h('td', { title: fmtTime(s.creation_time) }, fmtAgo(s.creation_time)),
          h('td', s.experiment_id ? h('a', { href: `/experiments/${enc(s.experiment_id)}` }, `Experiment ${s.experiment_id}`) : ''));
      })))));
  };
  search.addEventListener('input', draw);
  draw();
  return undefined;
}

// ------------------------------------------------------------------ one study

async function renderStudy(root, name) {
  title(`Study ${name}`);
  mount(root, crumbs(name), loading('Loading study…'));
  const fetchOverview = () => api.get(`${BASE}/overview`, { study: name });
  let data;
  try {
    data = await fetchOverview();
  } catch (e) {
    if (e.status === 404) {
      mount(root, crumbs(name), empty(`Study “${name}” was not found`,
        h('p', 'There is no study of this name in this server’s store: the link may be wrong, or the study lives in another store.'),
        h('p.mono', e.message),
        h('p', h('a', { href: '/studies' }, 'See all studies'))));
    } else {
      mount(root, crumbs(name), errorBox(e, 'Could not load the study'));
    }
    return undefined;
  }
  // What the user chose survives a live refresh.
  const ui = { state: '', sort: 'number', shown: PAGE, logY: false, px: 0, py: 1 };
  let page = { disposers: [], resize() {} };
  const dispose = () => { for (const d of page.disposers) d(); page.disposers = []; };

  const draw = () => {
    dispose();
    page = drawStudy(root, data, ui);
  };
  draw();

  let sig = signature(data);
  let busy = false;
  const live = () => data.study.n_running + data.study.n_waiting > 0;
  const timer = setInterval(async () => {
    if (document.hidden || busy || !live()) return;
    busy = true;
    try {
      const next = await fetchOverview();
      const s = signature(next);
      if (s !== sig) { data = next; sig = s; draw(); }
    } catch {
      // An unreachable server shows in the banner; the page keeps what it has.
    } finally {
      busy = false;
    }
  }, POLL_MS);
  let t = 0;
  const onResize = () => { clearTimeout(t); t = setTimeout(() => page.resize(), 250); };
  window.addEventListener('resize', onResize);
  return () => { clearInterval(timer); clearTimeout(t); window.removeEventListener('resize', onResize); dispose(); };
}

/** Changes when a trial is added, changes state, gets values or reports. */
function signature(data) {
  return JSON.stringify(data.trials.map((t) => [t.number, t.state, t.values, Object.keys(t.intermediate_values || {}).length]));
}

/**
 * Draws the whole study page into `root`. Returns `{ disposers, resize }`: the
 * charts' clean-ups, and a redraw of the SVG plots for a new width (the line
 * charts follow their own size).
 */
function drawStudy(root, data, ui) {
  const { study, trials } = data;
  const metrics = metricNames(study);
  const dirs = study.directions || ['minimize'];
  const multi = metrics.length > 1;
  const front = new Set(data.front || []);
  const byNumber = new Map(trials.map((t) => [t.number, t]));
  const complete = trials.filter((t) => t.state === 'COMPLETE' && Array.isArray(t.values));
  const names = paramNames(trials);
  const disposers = [];

  // Header.
  const header = [
    crumbs(study.name),
    h('div.page-head',
      h('div.grow',
        h('h1', study.name, ' ', metrics.map((m, i) => h('span.chip', { 'data-objective': i }, `${objectiveLabel(m, dirs[i])} ${dirs[i]}`))),
        h('div.sub',
          `sampler ${fmtConfig(study.sampler)} · pruner ${fmtConfig(study.pruner)} · seed ${study.seed ?? '—'}`,
          study.creation_time ? ` · created ${fmtTime(study.creation_time)}` : '')),
      study.parent_run_id ? h('a.btn', { href: `/runs/${enc(study.parent_run_id)}`, 'data-action': 'parent-run' }, 'Study run') : null,
      study.experiment_id ? h('a.btn', { href: `/experiments/${enc(study.experiment_id)}` }, 'Trials as runs') : null),
    h('div.study-stats', { 'data-testid': 'study-stats' },
      h('span.stat', h('strong', fmtCount(study.n_trials)), ' trials'),
      STATES.map((s) => {
        const n = { COMPLETE: study.n_complete, PRUNED: study.n_pruned, FAIL: study.n_fail, RUNNING: study.n_running, WAITING: study.n_waiting }[s] || 0;
        return h('span.stat', { 'data-state': s }, trialState(s), ' ', h('strong', fmtCount(n)));
      }),
      study.n_running + study.n_waiting > 0 ? h('span.muted', 'Live: refreshes every 5 s') : null),
  ];

  if (!trials.length) {
    mount(root, header, empty('No trials yet',
      h('p', 'Ask for the first trial with ', h('code', `kiln study ask --study ${study.name}`), ', run ', h('code', `kiln tune --study ${study.name} ...`), ','),
      h('p', 'or ', h('code', 'POST /api/2.0/kiln/studies/ask'), ' with ', h('code', JSON.stringify({ study: study.name })), '.')));
    return { disposers, resize() {} };
  }

  // Containers (filled once they are in the page, so the charts can measure themselves).
  const historyBoxes = metrics.map(() => h('div'));
  const logBox = h('input', { type: 'checkbox', checked: ui.logY, 'data-control': 'history-log' });
  const historyPanel = h('div.panel', { 'data-testid': 'history' },
    h('div.page-head', h('h2.grow', 'Optimisation history'), h('label.check', logBox, 'Log scale (y)')),
    h('div.legend',
      h('span', h('span.swatch', { style: { background: colorOf(0) } }), 'value of a complete trial'),
      h('span', h('span.swatch', { style: { background: colorOf(1) } }), 'best so far')),
    multi
      ? h('div.chart-grid.fit', metrics.map((m, i) => h('div.chart-card', { 'data-objective': i },
        h('h3', objectiveLabel(m, dirs[i]), h('span.note', `${dirs[i]}`)), historyBoxes[i])))
      : h('div.chart-card.wide', { 'data-objective': 0 }, h('h3', objectiveLabel(metrics[0], dirs[0]), h('span.note', dirs[0])), historyBoxes[0]));

  const bestPanel = multi ? frontPanel(data, metrics, dirs, byNumber, names) : bestTrialPanel(data, metrics, byNumber);
  const impPanel = importancesPanel(data.importances || [], metrics, multi);
  const paretoBox = h('div', { 'data-testid': 'pareto' });
  const paretoPanel = multi ? paretoScatterPanel(paretoBox, metrics, dirs, ui, () => drawPareto()) : null;
  const reported = trials.filter((t) => Object.keys(t.intermediate_values || {}).length);
  const interBox = h('div');
  const interPanel = reported.length
    ? h('div.panel', { 'data-testid': 'intermediate' },
      h('h2', `Intermediate values (${reported.length} trial${reported.length === 1 ? '' : 's'} reported)`),
      h('div.legend', STATES.filter((s) => reported.some((t) => t.state === s)).map((s) => h('span', h('span.swatch', { style: { background: STATE_COLOR[s] } }), s))),
      h('div.chart-card.wide', interBox))
    : null;
  const pcBox = h('div', { 'data-testid': 'parallel' });
  const pcPanel = h('div.panel', h('h2', 'Parallel coordinates'),
    h('p.muted', `Parameters against ${multi ? 'the objectives' : metrics[0]} for the ${fmtCount(complete.length)} complete trial${complete.length === 1 ? '' : 's'}; lines are coloured by the last axis. Click a line to open its run.`),
    pcBox);
  const trialsPanel = trialTable(trials, metrics, dirs, names, front, ui);

  mount(root, header,
    historyPanel,
    h('div.grid2', bestPanel, impPanel),
    paretoPanel,
    interPanel,
    pcPanel,
    trialsPanel);

  // History charts.
  const charts = [];
  metrics.forEach((m, i) => {
    const hist = optimisationHistory(trials, i, dirs[i]);
    const chart = new LineChart(historyBoxes[i], {
      label: `Optimisation history of ${m}`, xName: 'trial', xFormat: fmtTrial,
      fullExtent: () => (hist.xs.length ? [hist.xs[0], hist.xs[hist.xs.length - 1]] : [0, 1]),
    });
    chart.setOptions({ logY: ui.logY });
    if (!hist.xs.length) chart.setMessage('No complete trial yet');
    else {
      chart.setSeries([
        { label: m, color: colorOf(0), xs: hist.xs, ys: hist.ys, style: 'dots' },
        { label: 'best so far', color: colorOf(1), xs: hist.xs, ys: hist.best, step: true },
      ]);
    }
    charts.push(chart);
  });
  logBox.addEventListener('change', () => {
    ui.logY = logBox.checked;
    for (const c of charts) c.setOptions({ logY: ui.logY });
  });

  // Intermediate values: one line per trial that reported, coloured by state.
  if (reported.length) {
    const chart = new LineChart(interBox, { label: 'Intermediate values of the trials', xName: 'step', xFormat: fmtTrial });
    chart.setSeries(reported.map((t) => {
      const pts = intermediate(t);
      return { label: `#${t.number} ${t.state}`, color: STATE_COLOR[t.state] || '#888888', xs: pts.map((p) => p[0]), ys: pts.map((p) => p[1]) };
    }));
    charts.push(chart);
  }
  for (const c of charts) disposers.push(() => c.destroy());

  // Parallel coordinates of the complete trials.
  const drawParallel = () => {
    if (!complete.length) { mount(pcBox, h('p.muted', 'No complete trial yet.')); return; }
    // Conditional parameters (missing from some trials) first: a missing value breaks a
    // line, so the unbroken part then still runs from the parameters to the objectives.
    const always = (p) => complete.every((t) => (t.params || {})[p] !== undefined && (t.params || {})[p] !== null);
    const ordered = [...names.filter((p) => !always(p)), ...names.filter(always)];
    const axes = [
      ...ordered.map((p) => ({ label: p, values: complete.map((t) => { const v = (t.params || {})[p]; return v === undefined || v === null ? null : typeof v === 'boolean' ? String(v) : v; }) })),
      ...metrics.map((m, i) => ({ label: m, values: complete.map((t) => { const v = num(t.values[i]); return Number.isFinite(v) ? v : null; }) })),
    ];
    const runs = complete.map((t) => ({ id: t.run_id || `trial-${t.number}`, name: `Trial ${t.number}`, color: colorOf(0), trial: t }));
    parallelCoordinates(pcBox, { axes, runs, onOpen: (r) => { if (r.trial.run_id) window.kilnNavigate(`/runs/${enc(r.trial.run_id)}`); } });
  };
  drawParallel();

  // Pareto front.
  function drawPareto() {
    if (!multi) return;
    const px = ui.px;
    const py = ui.py;
    const points = complete.map((t) => ({
      x: num(t.values[px]), y: num(t.values[py]), label: `Trial ${t.number}${front.has(t.number) ? ' (Pareto front)' : ''}`,
      color: front.has(t.number) ? FRONT_COLOR : DOMINATED_COLOR, cls: front.has(t.number) ? 'front' : 'dominated',
      run: { id: t.run_id || `trial-${t.number}`, trial: t },
    })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    const frontPts = points.filter((p) => p.cls === 'front').sort((a, b) => a.x - b.x || a.y - b.y);
    scatterPlot(paretoBox, {
      points, noun: 'trial',
      xLabel: objectiveLabel(metrics[px], dirs[px]), yLabel: objectiveLabel(metrics[py], dirs[py]),
      lines: metrics.length === 2 && frontPts.length > 1 ? [{ points: frontPts, color: FRONT_COLOR, label: 'Pareto front' }] : [],
      onOpen: (r) => { if (r.trial.run_id) window.kilnNavigate(`/runs/${enc(r.trial.run_id)}`); },
    });
  }
  drawPareto();
  return { disposers, resize() { drawParallel(); drawPareto(); } };
}

function bestTrialPanel(data, metrics, byNumber) {
  const best = (data.front || []).map((n) => byNumber.get(n)).filter(Boolean);
  const t = best[0];
  if (!t) {
    return h('div.panel', { 'data-testid': 'best' }, h('h2', 'Best trial'), h('p.muted', 'No complete trial yet.'));
  }
  const params = Object.entries(t.params || {}).sort((a, b) => a[0].localeCompare(b[0]));
  return h('div.panel', { 'data-testid': 'best' },
    h('div.page-head', h('h2.grow', `Best trial: #${t.number}`), runLink(t, 'Open run')),
    h('dl.kv',
      h('dt', metrics[0]), h('dd.mono', { 'data-best-value': '' }, fmtNum(num((t.values || [])[0]))),
      h('dt', 'Duration'), h('dd', fmtDuration(t.duration_ms) || '—'),
      best.length > 1 ? [h('dt', 'Tied'), h('dd', best.slice(1).map((b) => `#${b.number}`).join(', '))] : null),
    h('h3', 'Parameters'),
    params.length
      ? h('div.table-scroll', h('table.data', h('tbody', params.map(([k, v]) => h('tr', h('td.mono', k), h('td.mono', fmtParam(v)))))))
      : h('p.muted', 'No parameters.'));
}

function frontPanel(data, metrics, dirs, byNumber, names) {
  const best = (data.front || []).map((n) => byNumber.get(n)).filter(Boolean);
  if (!best.length) {
    return h('div.panel', { 'data-testid': 'best' }, h('h2', 'Pareto front'), h('p.muted', 'No complete trial yet.'));
  }
  return h('div.panel', { 'data-testid': 'best' },
    h('h2', `Pareto front: ${best.length} trial${best.length === 1 ? '' : 's'}`),
    h('p.muted', 'The complete trials no other trial beats in every objective.'),
    h('div.table-scroll', h('table.data', { 'data-testid': 'front' },
      h('thead', h('tr', h('th', '#'), metrics.map((m, i) => h('th.num', objectiveLabel(m, dirs[i]))), names.slice(0, 6).map((p) => h('th', p)), h('th', 'Run'))),
      h('tbody', best.map((t) => h('tr', { 'data-trial': t.number },
        h('td', `#${t.number}`),
        metrics.map((_, i) => h('td.num', fmtNum(num((t.values || [])[i])))),
        names.slice(0, 6).map((p) => h('td.mono', fmtParam((t.params || {})[p]))),
        h('td', runLink(t))))))));
}

function importancesPanel(importances, metrics, multi) {
  const body = importances.length ? importances.map((imp) => {
    const items = imp.importances || [];
    const max = Math.max(0, ...items.map((i) => i.importance));
    return h('div.imp', { 'data-objective': imp.objective },
      multi ? h('h3', imp.metric || metrics[imp.objective] || `objective ${imp.objective}`) : null,
      imp.message
        ? h('p.muted', { 'data-testid': 'importances-message' }, `Not available yet: ${imp.message}.`)
        : items.map((i) => h('div.imp-row', { 'data-param': i.param, title: `${i.param}: ${(i.importance * 100).toFixed(1)}% of the explained variance` },
          h('span.mono.imp-name', i.param),
          h('span.imp-track', h('span.imp-bar', { style: { width: `${max > 0 ? (i.importance / max) * 100 : 0}%` } })),
          h('span.imp-val', `${(i.importance * 100).toFixed(1)}%`))));
  }) : h('p.muted', 'No importances.');
  return h('div.panel', { 'data-testid': 'importances' },
    h('h2', 'Parameter importances'),
    h('p.muted', 'fANOVA over a random forest fit to the complete trials: the share of the objective’s variance each parameter explains alone.'),
    body);
}

function paretoScatterPanel(box, metrics, dirs, ui, redraw) {
  const sel = (label, key) => {
    const s = h('select', { 'aria-label': label }, metrics.map((m, i) => h('option', { value: String(i), selected: ui[key] === i }, objectiveLabel(m, dirs[i]))));
    s.addEventListener('change', () => { ui[key] = Number(s.value); redraw(); });
    return s;
  };
  return h('div.panel',
    h('div.page-head', h('h2.grow', 'Pareto front'),
      metrics.length > 2 ? h('div.toolbar', h('label.check', 'x ', sel('Pareto x objective', 'px')), h('label.check', 'y ', sel('Pareto y objective', 'py'))) : null),
    h('div.legend',
      h('span', h('span.swatch', { style: { background: FRONT_COLOR } }), 'on the Pareto front'),
      h('span', h('span.swatch', { style: { background: DOMINATED_COLOR } }), 'dominated')),
    box);
}

/** Sorts trials in place: by number, or best value of objective `k` first (no value last). */
export function sortTrials(list, sort, dirs) {
  if (sort === 'number') return list.sort((a, b) => a.number - b.number);
  if (sort === 'recent') return list.sort((a, b) => b.number - a.number);
  const k = Number(sort.split(':')[1] || 0);
  const key = (t) => {
    const v = num((t.values || [])[k]);
    if (!Number.isFinite(v)) return Infinity;
    return dirs[k] === 'maximize' ? -v : v;
  };
  return list.sort((a, b) => key(a) - key(b) || a.number - b.number);
}

function trialTable(trials, metrics, dirs, names, front, ui) {
  const counts = Object.fromEntries(STATES.map((s) => [s, trials.filter((t) => t.state === s).length]));
  const stateSel = h('select', { 'aria-label': 'Show trials in state', 'data-control': 'trial-state' },
    h('option', { value: '' }, `All states (${trials.length})`),
    STATES.map((s) => h('option', { value: s, selected: ui.state === s, disabled: !counts[s] }, `${s} (${counts[s]})`)));
  const sortSel = h('select', { 'aria-label': 'Sort trials', 'data-control': 'trial-sort' },
    h('option', { value: 'number', selected: ui.sort === 'number' }, 'By number'),
    h('option', { value: 'recent', selected: ui.sort === 'recent' }, 'Newest first'),
    metrics.map((m, i) => h('option', { value: `best:${i}`, selected: ui.sort === `best:${i}` }, `Best ${m} first`)));
  const box = h('div');
  const anyReports = trials.some((t) => Object.keys(t.intermediate_values || {}).length);
  const draw = () => {
    const list = sortTrials(trials.filter((t) => !ui.state || t.state === ui.state), ui.sort, dirs);
    const shown = list.slice(0, ui.shown);
    mount(box,
      h('div.table-scroll', h('table.data', { 'data-testid': 'trials' },
        h('thead', h('tr',
          h('th.num', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'State'),
          metrics.map((m, i) => h('th.num', { scope: 'col' }, objectiveLabel(m, dirs[i]))),
          anyReports ? h('th', { scope: 'col' }, 'Intermediate values') : null,
          h('th.num', { scope: 'col' }, 'Duration'), h('th', { scope: 'col' }, 'Started'),
          names.map((p) => h('th', { scope: 'col', class: 'mono' }, p)),
          h('th', { scope: 'col' }, 'Run'))),
        h('tbody', shown.map((t) => {
          const pts = intermediate(t);
          const last = pts[pts.length - 1];
          return h('tr', { 'data-trial': t.number, 'data-state': t.state },
            h('td.num', String(t.number)),
            h('td', trialState(t.state), front.has(t.number) ? h('span.chip', { style: { marginLeft: '6px' } }, metrics.length > 1 ? 'Pareto' : 'best') : null,
              t.fail_reason ? h('div.muted.small', { title: t.fail_reason }, t.fail_reason.length > 60 ? `${t.fail_reason.slice(0, 59)}…` : t.fail_reason) : null),
            metrics.map((_, i) => h('td.num', { 'data-value': i }, Array.isArray(t.values) ? fmtNum(num(t.values[i])) : h('span.muted', '—'))),
            anyReports ? h('td', { 'data-intermediate': pts.length },
              pts.length ? h('span.inter', sparkline(pts, STATE_COLOR[t.state] || '#888888'),
                h('span', `${fmtCount(pts.length)} report${pts.length === 1 ? '' : 's'} · last ${fmtNum(last[1])} @ step ${last[0]}`)) : h('span.muted', '—')) : null,
            h('td.num', fmtDuration(t.duration_ms) || h('span.muted', t.state === 'RUNNING' ? 'running' : '—')),
            h('td', fmtTime(t.start_time) || h('span.muted', '—')),
            names.map((p) => h('td.mono', fmtParam((t.params || {})[p]))),
            h('td', runLink(t)));
        })))),
      list.length > shown.length
        ? h('div.rt-foot', `${fmtCount(shown.length)} of ${fmtCount(list.length)} trials shown`,
          h('button.btn.small', { type: 'button', onclick: () => { ui.shown += PAGE; draw(); } }, `Show ${fmtCount(Math.min(PAGE, list.length - shown.length))} more`))
        : null,
      !list.length ? h('p.muted', 'No trial in this state.') : null);
  };
  stateSel.addEventListener('change', () => { ui.state = stateSel.value; ui.shown = PAGE; draw(); });
  sortSel.addEventListener('change', () => { ui.sort = sortSel.value; draw(); });
  draw();
  return h('div.panel',
    h('div.page-head', h('h2.grow', `Trials (${fmtCount(trials.length)})`), h('div.toolbar', stateSel, sortSel)),
    box);
}
