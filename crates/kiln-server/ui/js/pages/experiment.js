// One experiment: its runs table (Kiln's compact runs/table endpoint, MLflow's
// filter grammar and ordering on the server), chosen columns, nested runs folded
// under their parents, selection for compare, and live updates: running runs are
// refreshed every few seconds and new runs appear without a reload.

import * as api from '../api.js';
import { h, mount, errorBox, loading, empty, title } from '../dom.js';
import { fmtAgo, fmtTime, fmtDuration, fmtNum, fmtCount } from '../format.js';
import { load, save } from '../state.js';
import { createRunTable } from '../components/runtable.js';
import { createFilterBox, quoteKey } from '../components/filterbox.js';
import { openDialog } from '../components/dialog.js';

const FIRST_PAGE = 200;
/** Default metric and param columns (each) when none were chosen. */
const DEFAULT_COLUMNS = 6;
const POLL_MS = 5000;
const MAX_COMPARE = 100;
const FIELDS = 8; // run_id, run_name, status, start_time, end_time, user_id, lifecycle_stage, parent_run_id

/** Default columns: the first metrics and params, alphabetically. */
export function defaultColumns(keys) {
  return [
    ...(keys.metrics || []).slice(0, DEFAULT_COLUMNS).map((k) => `metrics.${k}`),
    ...(keys.params || []).slice(0, DEFAULT_COLUMNS).map((k) => `params.${k}`),
  ];
}

/** Nested runs folded under their parents, in the server's order. */
export function foldRuns(runs, expanded) {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const kids = new Map();
  for (const r of runs) {
    if (r.parent && r.parent !== r.id && byId.has(r.parent)) {
      if (!kids.has(r.parent)) kids.set(r.parent, []);
      kids.get(r.parent).push(r);
    }
  }
  const out = [];
  const seen = new Set();
  const visit = (r, depth) => {
    if (seen.has(r.id)) return;
    seen.add(r.id);
    const children = kids.get(r.id) || [];
    const open = expanded.has(r.id);
    out.push({ run: r, depth, kids: children.length, expanded: open });
    if (open) for (const c of children) visit(c, depth + 1);
  };
  for (const r of runs) {
    const hasParent = r.parent && r.parent !== r.id && byId.has(r.parent);
    if (!hasParent) visit(r, 0);
  }
  // Children whose parent chain loops are shown at the top level rather than lost.
  for (const r of runs) if (!seen.has(r.id) && !(r.parent && seen.has(r.parent) && !expanded.has(r.parent))) visit(r, 0);
  return out;
}

function toRun(row, columns) {
  const values = {};
  columns.forEach((c, i) => { values[c] = row[FIELDS + i]; });
  return {
    id: row[0], name: row[1], status: row[2], start: row[3], end: row[4],
    user: row[5], stage: row[6], parent: row[7], values,
  };
}

function orderBy(sort) {
  if (!sort) return [];
  const dir = sort.dir === 'asc' ? 'ASC' : 'DESC';
  const attr = { name: 'attributes.run_name', status: 'attributes.status', start: 'attributes.start_time', user: 'attributes.user_id' }[sort.id];
  if (attr) return [`${attr} ${dir}`];
  const dot = sort.id.indexOf('.');
  return [`${sort.id.slice(0, dot)}.${quoteKey(sort.id.slice(dot + 1))} ${dir}`];
}

/** The runs/table request for the page's state (without offset and limit). */
function tableRequest(id, state) {
  const req = {
    experiment_ids: [id],
    filter: state.filter,
    order_by: orderBy(state.sort),
    view_type: state.deleted ? 'ALL' : 'ACTIVE_ONLY',
    columns: state.columns || [],
  };
  if (!state.columns) req.default_columns = DEFAULT_COLUMNS;
  return req;
}

function parseSort(s) {
  if (!s) return null;
  const i = s.lastIndexOf(':');
  if (i < 0) return null;
  const dir = s.slice(i + 1);
  return { id: s.slice(0, i), dir: dir === 'asc' ? 'asc' : 'desc' };
}

export async function render(root, { id }, query) {
  title('Experiment');
  mount(root, loading('Loading experiment…'));
  const state = {
    filter: query.get('filter') || '',
    sort: parseSort(query.get('sort')),
    deleted: query.get('deleted') === '1',
    columns: load(`cols.${id}`, null),
  };
  // The first page of runs is asked for at once, alongside the experiment; without
  // remembered columns the server picks defaults from that page's own keys. The full
  // key lists (completion, column picker) arrive on their own.
  let prefetch = api.post('/kiln/runs/table', { ...tableRequest(id, state), offset: 0, limit: FIRST_PAGE })
    .catch((e) => ({ failed: e }));
  let keys = { params: [], metrics: [], tags: [] };
  const keysPromise = api.get('/kiln/runs/keys', { experiment_ids: [id] });
  keysPromise.catch(() => {});
  let exp;
  try {
    exp = (await api.get('/mlflow/experiments/get', { experiment_id: id })).experiment;
  } catch (e) {
    if (e.status === 404 || e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'INVALID_PARAMETER_VALUE') {
      mount(root, h('div.crumbs', h('a', { href: '/experiments' }, 'Experiments')),
        empty(`Experiment “${id}” was not found`, h('p', e.message), h('p', h('a', { href: '/experiments' }, 'See all experiments'))));
    } else {
      mount(root, errorBox(e, 'Could not load the experiment'));
    }
    return undefined;
  }
  title(exp.name);

  const expanded = new Set();
  let runs = [];
  let total = 0;
  let maxStart = null;
  let loadGen = 0;
  let restLoading = false;
  let lastUpdate = 0;

  const countEl = h('span', { 'data-testid': 'run-count' });
  const liveEl = h('span.conn');
  const compareBtn = h('button.btn.primary', { type: 'button', disabled: true, onclick: compare, 'data-action': 'compare' }, 'Compare');
  const tableHolder = h('div');
  const foot = h('div.rt-foot', countEl, liveEl);
  const messageEl = h('div');

  const filterBox = createFilterBox({
    value: state.filter,
    keys,
    onApply: (f) => { state.filter = f; syncUrl(); reload(false); },
  });
  keysPromise.then((k) => { keys = k; filterBox.setKeys(k); })
    .catch((e) => mount(messageEl, errorBox(e, 'Could not load the keys of this experiment (filter completion is off)')));
  const deletedBox = h('input', { type: 'checkbox', checked: state.deleted });
  deletedBox.addEventListener('change', () => { state.deleted = deletedBox.checked; syncUrl(); reload(false); });

  const table = createRunTable({
    onSort: (s) => { state.sort = s; syncUrl(); table.setSort(s); reload(false); },
    onOpen: (run) => window.kilnNavigate(`/runs/${encodeURIComponent(run.id)}`),
    onToggle: (run) => { if (expanded.has(run.id)) expanded.delete(run.id); else expanded.add(run.id); redraw(); },
    onSelect: (sel) => {
      compareBtn.disabled = sel.size < 2;
      compareBtn.textContent = sel.size ? `Compare ${sel.size} runs` : 'Compare';
    },
  });
  table.setSort(state.sort);

  const tagList = (exp.tags || []).filter((t) => !t.key.startsWith('mlflow.'));
  const note = (exp.tags || []).find((t) => t.key === 'mlflow.note.content');
  mount(root,
    h('div.crumbs', h('a', { href: '/experiments' }, 'Experiments'), ' / ', exp.name),
    h('div.page-head',
      h('div.grow',
        h('h1', exp.name, exp.lifecycle_stage === 'deleted' ? h('span.chip', ' deleted') : null),
        h('div.sub', `ID ${exp.experiment_id} · artifacts at `, h('code', exp.artifact_location),
          ` · created ${fmtTime(exp.creation_time)}`),
        note ? h('p', note.value) : null,
        tagList.length ? h('div', tagList.map((t) => h('span.chip', `${t.key}: ${t.value}`))) : null),
      compareBtn),
    h('div.toolbar', filterBox.el,
      h('button.btn', { type: 'button', onclick: pickColumns, 'data-action': 'columns' }, 'Columns…'),
      h('label.check', deletedBox, 'Deleted runs')),
    messageEl,
    tableHolder,
    foot);

  function syncUrl() {
    const p = new URLSearchParams();
    if (state.filter) p.set('filter', state.filter);
    if (state.sort) p.set('sort', `${state.sort.id}:${state.sort.dir}`);
    if (state.deleted) p.set('deleted', '1');
    const s = p.toString();
    history.replaceState(null, '', `${location.pathname}${s ? `?${s}` : ''}`);
  }

  function columnDefs() {
    const defs = [
      { id: 'select', label: '', width: 36 },
      { id: 'name', label: 'Run', width: 260, sortable: true },
      { id: 'status', label: 'Status', width: 108, sortable: true, cell: (r) => h(`span.status.${r.status}`, r.status), cellTitle: (r) => r.status },
      { id: 'start', label: 'Started', width: 120, sortable: true, cell: (r) => fmtAgo(r.start), cellTitle: (r) => fmtTime(r.start) },
      {
        id: 'duration', label: 'Duration', width: 100, numeric: true,
        cell: (r) => (r.end ? fmtDuration(r.end - r.start) : r.status === 'RUNNING' ? `${fmtDuration(Date.now() - r.start)}…` : ''),
      },
      { id: 'user', label: 'User', width: 110, sortable: true, cell: (r) => r.user || '' },
    ];
    for (const c of state.columns) {
      const dot = c.indexOf('.');
      const kind = c.slice(0, dot);
      const key = c.slice(dot + 1);
      const numeric = kind === 'metrics';
      defs.push({
        id: c, label: key, group: kind === 'metrics' ? 'metric' : kind === 'params' ? 'param' : 'tag',
        title: c, width: numeric ? 120 : 130, numeric, sortable: true,
        cell: numeric ? (r) => fmtNum(r.values[c]) : (r) => (r.values[c] ?? ''),
        cellTitle: (r) => (r.values[c] === null || r.values[c] === undefined ? `${c}: not logged` : `${c} = ${r.values[c]}`),
      });
    }
    return defs;
  }

  function redraw() {
    table.setRows(foldRuns(runs, expanded));
    countEl.textContent = `${fmtCount(total)} run${total === 1 ? '' : 's'}${restLoading ? ` · loading ${fmtCount(total - runs.length)} more…` : ''}`;
  }

  const baseRequest = () => tableRequest(id, state);

  async function reload(keepScroll = true) {
    const gen = ++loadGen;
    const base = baseRequest();
    if (!runs.length) mount(tableHolder, loading('Loading runs…'));
    let first;
    try {
      if (prefetch) {
        first = await prefetch;
        prefetch = null;
        if (first.failed) throw first.failed;
      } else {
        first = await api.post('/kiln/runs/table', { ...base, offset: 0, limit: FIRST_PAGE });
      }
    } catch (e) {
      if (gen !== loadGen) return;
      if (e.status >= 400 && e.status < 500 && state.filter) {
        filterBox.setError(e.message);
        runs = [];
        total = 0;
        mount(tableHolder, empty('No runs shown', 'Fix the filter above, or clear it.'));
      } else {
        mount(tableHolder, errorBox(e, 'Could not load runs'));
      }
      countEl.textContent = '';
      return;
    }
    if (gen !== loadGen) return;
    if (!state.columns) {
      state.columns = first.columns;
      if (tableHolder.firstChild === table.el) table.setColumns(columnDefs());
    }
    filterBox.setError(null);
    mount(messageEl);
    total = first.total;
    maxStart = first.max_start_time;
    runs = first.rows.map((r) => toRun(r, first.columns));
    lastUpdate = Date.now();
    if (!runs.length) {
      mount(tableHolder, state.filter
        ? empty('No run matches the filter', h('code', state.filter))
        : empty('No runs in this experiment yet',
          h('p', 'Log one with the MLflow client:'),
          h('p', h('code', `MLFLOW_TRACKING_URI=${location.origin} python -c "import mlflow; mlflow.set_experiment('${exp.name}'); mlflow.start_run(); mlflow.log_metric('loss', 0.5)"`))));
      countEl.textContent = '0 runs';
      return;
    }
    if (tableHolder.firstChild !== table.el) {
      mount(tableHolder, table.el);
      table.setColumns(columnDefs());
    }
    restLoading = total > runs.length;
    table.setRows(foldRuns(runs, expanded), { keepScroll });
    redraw();
    if (restLoading) {
      let rest;
      try {
        rest = await api.post('/kiln/runs/table', { ...baseRequest(), offset: runs.length, limit: 50000 });
      } catch (e) {
        if (gen !== loadGen) return;
        restLoading = false;
        mount(messageEl, errorBox(e, `Only the first ${runs.length} runs could be loaded`));
        redraw();
        return;
      }
      if (gen !== loadGen) return;
      runs = runs.concat(rest.rows.map((r) => toRun(r, rest.columns)));
      restLoading = false;
      redraw();
    }
  }

  async function poll() {
    if (document.hidden || restLoading) return;
    const gen = loadGen;
    const base = baseRequest();
    try {
      const running = runs.filter((r) => r.status === 'RUNNING').slice(0, 500).map((r) => r.id);
      if (running.length) {
        const upd = await api.post('/kiln/runs/table', { ...base, run_ids: running, offset: 0, limit: 500 });
        if (gen !== loadGen) return;
        const byId = new Map(upd.rows.map((r) => [r[0], toRun(r, upd.columns)]));
        runs = runs.map((r) => byId.get(r.id) || r);
        redraw();
      }
      const head = await api.post('/kiln/runs/table', { ...base, offset: 0, limit: 0 });
      if (gen !== loadGen) return;
      if (head.total !== total || head.max_start_time !== maxStart) await reload(true);
      lastUpdate = Date.now();
      liveEl.className = 'conn live';
      liveEl.textContent = `Live · updated ${fmtTime(lastUpdate).slice(11)}`;
    } catch (e) {
      liveEl.className = 'conn down';
      liveEl.textContent = `Live updates paused: ${e.message}`;
    }
  }

  function compare() {
    const ids = [...table.selected];
    if (ids.length > MAX_COMPARE) {
      openDialog({ title: 'Too many runs', body: h('p', `Compare at most ${MAX_COMPARE} runs at once; ${ids.length} are selected.`), submitLabel: 'OK' });
      return;
    }
    window.kilnNavigate(`/compare?runs=${ids.map(encodeURIComponent).join(',')}`);
  }

  async function pickColumns() {
    try {
      keys = await api.get('/kiln/runs/keys', { experiment_ids: [id] });
      filterBox.setKeys(keys);
    } catch (e) {
      mount(messageEl, errorBox(e, 'Could not load the keys of this experiment'));
      return;
    }
    const chosen = new Set(state.columns);
    const search = h('input', { type: 'search', placeholder: 'Search keys', 'aria-label': 'Search keys', style: { width: '100%', marginBottom: '10px' } });
    const list = h('div.col-picker');
    const draw = () => {
      const q = search.value.toLowerCase();
      const group = (kind, label) => {
        const ks = (keys[kind] || []).filter((k) => k.toLowerCase().includes(q));
        if (!ks.length) return null;
        return [h('h3', `${label} (${ks.length})`), ks.slice(0, 500).map((k) => {
          const c = `${kind}.${k}`;
          return h('label', h('input', { type: 'checkbox', checked: chosen.has(c), onchange: (e) => (e.target.checked ? chosen.add(c) : chosen.delete(c)) }), k);
        })];
      };
      mount(list, group('metrics', 'Metrics'), group('params', 'Parameters'), group('tags', 'Tags'));
      if (!list.childNodes.length) mount(list, h('p.muted', q ? 'No key matches.' : 'No params, metrics or tags logged yet.'));
    };
    search.addEventListener('input', draw);
    draw();
    const ok = await openDialog({
      title: 'Columns',
      body: [search, list, h('p', h('button.btn.small', { type: 'button', onclick: () => { chosen.clear(); defaultColumns(keys).forEach((c) => chosen.add(c)); draw(); } }, 'Reset to default'))],
      submitLabel: 'Show columns',
      wide: true,
    });
    if (!ok) return;
    const order = ['metrics', 'params', 'tags'];
    state.columns = [...chosen].sort((a, b) => order.indexOf(a.split('.')[0]) - order.indexOf(b.split('.')[0]) || a.localeCompare(b));
    save(`cols.${id}`, state.columns);
    table.setColumns(columnDefs());
    reload(true);
  }

  await reload(false);
  const timer = setInterval(poll, POLL_MS);
  return () => { clearInterval(timer); loadGen += 1; table.destroy(); };
}
