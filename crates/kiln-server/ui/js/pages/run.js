// One run: overview (details, params, metrics with latest / min / max, tags,
// dataset inputs with fingerprint, schema and profile, lineage: parent and child
// runs, logged models and the registered versions made from it), charts of every
// metric, and the artifact browser. A running run refreshes itself.

import * as api from '../api.js';
import { h, mount, errorBox, loading, empty, title, statusBadge, stageBadge, table } from '../dom.js';
import { fmtTime, fmtDuration, fmtNum, fmtCount, shortId } from '../format.js';
import { colorOf } from '../state.js';
import { createMetricCharts } from '../components/metriccharts.js';
import { createArtifactBrowser } from '../components/artifacts.js';

const TABS = [['overview', 'Overview'], ['metrics', 'Charts'], ['artifacts', 'Artifacts']];

function tagValue(run, key) {
  const t = (run.data.tags || []).find((x) => x.key === key);
  return t ? t.value : '';
}

function parseJson(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return undefined; }
}

/** The columns of an MLflow dataset schema (`{"mlflow_colspec": [...]}`) or null. */
export function schemaColumns(schemaText) {
  const s = parseJson(schemaText);
  if (!s) return null;
  const cols = s.mlflow_colspec || s.mlflow_tensorspec || s.columns || s.fields || (Array.isArray(s) ? s : null);
  if (!Array.isArray(cols)) return null;
  return cols.map((c) => (typeof c === 'object' && c ? [c.name ?? '', c.type ?? c.dtype ?? JSON.stringify(c)] : [String(c), '']));
}

function datasetView(d) {
  const ds = d.dataset;
  const ctx = (d.tags || []).find((t) => t.key === 'mlflow.data.context');
  const cols = schemaColumns(ds.schema);
  const profile = parseJson(ds.profile);
  return h('div.panel', { 'data-testid': 'dataset' },
    h('h3', ds.name, ctx ? h('span.chip', { style: { marginLeft: '8px' } }, ctx.value) : null),
    h('dl.kv',
      h('dt', 'Fingerprint (digest)'), h('dd.mono', ds.digest),
      h('dt', 'Source type'), h('dd', ds.source_type || ''),
      h('dt', 'Source'), h('dd.mono', ds.source || '')),
    cols ? h('details', h('summary', `Schema: ${cols.length} columns`), table(['Column', 'Type'], cols))
      : ds.schema ? h('details', h('summary', 'Schema'), h('pre.block', ds.schema)) : null,
    profile !== null && profile !== undefined
      ? h('details', { open: true }, h('summary', 'Profile'),
        typeof profile === 'object' && !Array.isArray(profile)
          ? h('dl.kv', Object.entries(profile).map(([k, v]) => [h('dt', k), h('dd.mono', typeof v === 'object' ? JSON.stringify(v) : String(v))]))
          : h('pre.block', JSON.stringify(profile, null, 2)))
      : ds.profile ? h('details', h('summary', 'Profile'), h('pre.block', ds.profile)) : null);
}

export async function render(root, { id }, query) {
  title('Run');
  mount(root, loading('Loading run…'));
  let run;
  // Min / max / counts (a scan of the histories) are only needed by the overview: the
  // charts start from the run's own metric keys without waiting for them.
  let summary = null;
  let summaryError = null;
  const summaryReady = api.get('/kiln/runs/metric-summary', { run_id: id })
    .then((r) => { summary = r.metrics || []; })
    .catch((e) => { summaryError = e; });
  try {
    run = (await api.get('/mlflow/runs/get', { run_id: id })).run;
  } catch (e) {
    if (e.status === 404 || e.code === 'RESOURCE_DOES_NOT_EXIST') {
      mount(root, empty(`Run “${id}” was not found`,
        h('p', 'It may have been deleted permanently, or the link is wrong.'),
        h('p.mono', e.message),
        h('p', h('a', { href: '/experiments' }, 'See all experiments'))));
    } else {
      mount(root, errorBox(e, 'Could not load the run'));
    }
    return undefined;
  }
  const info = run.info;
  title(info.run_name || info.run_id);
  let tab = query.get('tab') || 'overview';
  if (!TABS.some(([t]) => t === tab)) tab = 'overview';
  // The experiment's name is only for the breadcrumb: it does not hold up the page.
  let exp = null;
  api.get('/mlflow/experiments/get', { experiment_id: info.experiment_id }).then((r) => {
    exp = r.experiment;
    mount(headerBox, header());
  }).catch(() => {});

  const tabBar = h('div.tabs', { role: 'tablist' });
  const content = h('div');
  let cleanupTab = null;
  let timer = 0;

  function header() {
    const end = info.end_time;
    return [
      h('div.crumbs',
        h('a', { href: '/experiments' }, 'Experiments'), ' / ',
        h('a', { href: `/experiments/${encodeURIComponent(info.experiment_id)}` }, exp ? exp.name : `Experiment ${info.experiment_id}`),
        ' / ', info.run_name),
      h('div.page-head',
        h('div.grow',
          h('h1', info.run_name || info.run_id, ' ', statusBadge(info.status), info.lifecycle_stage === 'deleted' ? h('span.chip', 'deleted') : null),
          h('div.sub', h('span.mono', info.run_id), ` · started ${fmtTime(info.start_time)}`,
            end ? ` · ran ${fmtDuration(end - info.start_time)}` : info.status === 'RUNNING' ? ` · running for ${fmtDuration(Date.now() - info.start_time)}` : '')),
        tagValue(run, 'mlflow.parentRunId')
          ? h('a.btn', { href: `/compare?runs=${encodeURIComponent(info.run_id)},${encodeURIComponent(tagValue(run, 'mlflow.parentRunId'))}` }, 'Compare with parent')
          : null),
    ];
  }

  function drawTabs() {
    mount(tabBar, TABS.map(([t, label]) => h('a', {
      href: `/runs/${encodeURIComponent(info.run_id)}?tab=${t}`, role: 'tab', 'aria-selected': t === tab ? 'true' : 'false',
      onclick: (e) => { e.preventDefault(); tab = t; history.replaceState(null, '', `/runs/${encodeURIComponent(info.run_id)}?tab=${t}`); show(); },
    }, label)));
  }

  async function show(focusKey = '') {
    drawTabs();
    if (cleanupTab) cleanupTab();
    cleanupTab = null;
    if (tab === 'overview') {
      if (!summary && !summaryError) {
        mount(content, loading('Loading metrics…'));
        await summaryReady;
        if (tab !== 'overview') return;
      }
      mount(content, overview());
      lineage();
    } else if (tab === 'metrics') {
      const charts = createMetricCharts({
        runs: [{ id: info.run_id, name: info.run_name, start: info.start_time, color: colorOf(0) }],
        keys: (run.data.metrics || []).map((m) => m.key).sort(),
        focus: focusKey,
      });
      mount(content, charts.el);
      cleanupTab = () => charts.destroy();
    } else {
      const outputs = (run.outputs && run.outputs.model_outputs) || [];
      const models = await Promise.all(outputs.map((o) => api.get(`/mlflow/logged-models/${encodeURIComponent(o.model_id)}`).then((r) => r.model).catch(() => null)));
      const roots = [{ label: 'Run artifacts', owner: { runId: info.run_id } }];
      for (const m of models.filter(Boolean)) {
        roots.push({ label: `Logged model: ${m.info.name} (${shortId(m.info.model_id, 14)})`, owner: { modelId: m.info.model_id } });
      }
      const b = createArtifactBrowser({ roots, initialPath: query.get('path') || '' });
      mount(content, b.el);
      cleanupTab = () => b.destroy();
    }
  }

  const lineageBox = h('div');

  function overview() {
    const params = run.data.params || [];
    const tags = run.data.tags || [];
    const userTags = tags.filter((t) => !t.key.startsWith('mlflow.'));
    const sysTags = tags.filter((t) => t.key.startsWith('mlflow.'));
    const datasets = (run.inputs && run.inputs.dataset_inputs) || [];
    const src = tagValue(run, 'mlflow.source.name');
    const commit = tagValue(run, 'mlflow.source.git.commit');
    const note = tagValue(run, 'mlflow.note.content');
    const paramSearch = h('input', { type: 'search', placeholder: 'Filter params', 'aria-label': 'Filter parameters', style: { width: '180px' } });
    const paramTable = h('div');
    const drawParams = () => {
      const q = paramSearch.value.toLowerCase();
      const ps = params.filter((p) => p.key.toLowerCase().includes(q) || String(p.value).toLowerCase().includes(q));
      mount(paramTable, params.length
        ? table(['Parameter', 'Value'], ps.map((p) => [h('span.mono', p.key), h('td.wrap.mono', p.value)]))
        : h('p.muted', 'No parameters logged.'));
    };
    paramSearch.addEventListener('input', drawParams);
    drawParams();
    return h('div',
      note ? h('div.panel', h('h3', 'Description'), h('p', { style: { whiteSpace: 'pre-wrap' } }, note)) : null,
      h('div.grid2',
        h('div.panel',
          h('h2', 'Details'),
          h('dl.kv',
            h('dt', 'Run ID'), h('dd.mono', info.run_id),
            h('dt', 'Experiment'), h('dd', h('a', { href: `/experiments/${encodeURIComponent(info.experiment_id)}` }, exp ? exp.name : info.experiment_id)),
            h('dt', 'Status'), h('dd', statusBadge(info.status)),
            h('dt', 'Started'), h('dd', fmtTime(info.start_time)),
            h('dt', 'Ended'), h('dd', fmtTime(info.end_time) || '—'),
            h('dt', 'Duration'), h('dd', info.end_time ? fmtDuration(info.end_time - info.start_time) : '—'),
            h('dt', 'User'), h('dd', info.user_id || '—'),
            src ? [h('dt', 'Source'), h('dd.mono', src)] : null,
            commit ? [h('dt', 'Git commit'), h('dd.mono', commit)] : null,
            h('dt', 'Artifacts'), h('dd.mono', info.artifact_uri))),
        h('div.panel', h('h2', 'Lineage'), lineageBox)),
      h('div.grid2',
        h('div.panel', { 'data-testid': 'params' }, h('div.page-head', h('h2.grow', `Parameters (${params.length})`), params.length > 8 ? paramSearch : null), paramTable),
        summaryError ? h('div.panel', { 'data-testid': 'metrics' }, h('h2', 'Metrics'), errorBox(summaryError, 'Could not load the metrics'))
        : h('div.panel', { 'data-testid': 'metrics' }, h('h2', `Metrics (${summary.length})`),
          summary.length
            ? table(['Metric', 'Latest', 'Step', 'Min', 'Max', 'Points'], summary.map((m) => [
              h('a.mono', { href: `/runs/${encodeURIComponent(info.run_id)}?tab=metrics`, onclick: (e) => { e.preventDefault(); tab = 'metrics'; history.replaceState(null, '', `?tab=metrics`); show(m.key); } }, m.key),
              fmtNum(m.latest), String(m.step), fmtNum(m.min), fmtNum(m.max), fmtCount(m.count)]), { numeric: [1, 2, 3, 4, 5] })
            : h('p.muted', 'No metrics logged.'))),
      h('div.panel', h('h2', `Datasets (${datasets.length})`),
        datasets.length ? datasets.map(datasetView) : h('p.muted', 'No dataset inputs logged (mlflow.log_input).')),
      h('div.panel', { 'data-testid': 'tags' }, h('h2', `Tags (${userTags.length})`),
        userTags.length ? table(['Tag', 'Value'], userTags.map((t) => [h('span.mono', t.key), h('td.wrap', t.value)])) : h('p.muted', 'No tags.'),
        sysTags.length ? h('details', h('summary', `System tags (${sysTags.length})`),
          table(['Tag', 'Value'], sysTags.map((t) => [h('span.mono', t.key), h('td.wrap.mono', t.value.length > 400 ? `${t.value.slice(0, 400)}…` : t.value)]))) : null));
  }

  async function lineage() {
    mount(lineageBox, loading('Loading lineage…'));
    const parentId = tagValue(run, 'mlflow.parentRunId');
    const outputs = (run.outputs && run.outputs.model_outputs) || [];
    const [parent, children, versions, models] = await Promise.all([
      parentId ? api.get('/mlflow/runs/get', { run_id: parentId }).then((r) => r.run).catch((e) => ({ error: e })) : null,
      api.post('/mlflow/runs/search', { experiment_ids: [info.experiment_id], filter: `tags.mlflow.parentRunId = '${info.run_id}'`, max_results: 200 })
        .then((r) => r.runs || []).catch((e) => ({ error: e })),
      api.get('/mlflow/model-versions/search', { filter: `run_id = '${info.run_id}'`, max_results: 200 })
        .then((r) => r.model_versions || []).catch((e) => ({ error: e })),
      Promise.all(outputs.map((o) => api.get(`/mlflow/logged-models/${encodeURIComponent(o.model_id)}`).then((r) => r.model).catch(() => ({ info: { model_id: o.model_id, name: o.model_id } })))),
    ]);
    const parts = [];
    if (parentId) {
      parts.push(h('h3', 'Parent run'), parent && parent.error
        ? h('p', h('span.mono', parentId), ' ', h('span.muted', `(${parent.error.message})`))
        : h('p', h('a', { href: `/runs/${encodeURIComponent(parentId)}` }, parent.info.run_name || parentId)));
    }
    if (children && children.error) parts.push(errorBox(children.error, 'Could not list child runs'));
    else if (children.length) {
      parts.push(h('h3', `Child runs (${children.length})`), h('ul', children.map((c) => h('li',
        h('a', { href: `/runs/${encodeURIComponent(c.info.run_id)}` }, c.info.run_name), ' ', statusBadge(c.info.status)))));
    }
    if (models.length) {
      parts.push(h('h3', `Logged models (${models.length})`), h('ul', models.map((m) => h('li',
        h('span.mono', m.info.name), ' ', h('span.muted', shortId(m.info.model_id, 16)), m.info.model_type ? ` · ${m.info.model_type}` : '',
        ' · ', h('a', { href: `/runs/${encodeURIComponent(info.run_id)}?tab=artifacts` }, 'artifacts')))));
    }
    if (versions && versions.error) parts.push(errorBox(versions.error, 'Could not list registered versions'));
    else if (versions.length) {
      parts.push(h('h3', `Registered model versions (${versions.length})`), h('ul', { 'data-testid': 'registered-versions' }, versions.map((v) => h('li',
        h('a', { href: `/models/${encodeURIComponent(v.name)}/versions/${encodeURIComponent(v.version)}` }, `${v.name} v${v.version}`), ' ',
        stageBadge(v.current_stage), (v.aliases || []).map((a) => h('span.chip.alias', `@${a}`))))));
    }
    const studyName = tagValue(run, 'kiln.study');
    if (studyName) {
      const n = tagValue(run, 'kiln.trial_number');
      const st = tagValue(run, 'kiln.trial_state');
      parts.unshift(h('h3', 'Study'), h('p', { 'data-testid': 'study-link' },
        h('a', { href: `/studies/${encodeURIComponent(studyName)}` }, studyName),
        n !== '' ? ` · trial #${n}` : ' · the study’s own run',
        st ? [' ', h(`span.status.${st}`, st)] : null));
    }
    if (!parts.length) parts.push(h('p.muted', 'No parent, children, logged models or registered versions.'));
    mount(lineageBox, parts);
  }

  async function refresh() {
    if (document.hidden || info.status !== 'RUNNING') return;
    try {
      const [r, s] = await Promise.all([
        api.get('/mlflow/runs/get', { run_id: id }).then((x) => x.run),
        api.get('/kiln/runs/metric-summary', { run_id: id }).then((x) => x.metrics || []),
      ]);
      run = r;
      Object.assign(info, r.info);
      summary = s;
      mount(headerBox, header());
      if (tab === 'overview') { mount(content, overview()); lineage(); }
    } catch {
      // The banner shows an unreachable server; the page keeps what it has.
    }
  }

  const headerBox = h('div', header());
  mount(root, headerBox, tabBar, content);
  await show();
  if (info.status === 'RUNNING') timer = setInterval(refresh, 5000);
  return () => { clearInterval(timer); if (cleanupTab) cleanupTab(); };
}
