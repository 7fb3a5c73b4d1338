// The model registry: the list of registered models; a model with its versions,
// stages, aliases, tags and description; a version with its source run and data.
// Actions: promote / demote (stage transitions), set and remove aliases, add and
// remove tags, edit descriptions. Every action's error is shown where it happened.

import * as api from '../api.js';
import { h, mount, errorBox, loading, empty, title, stageBadge, statusBadge, table } from '../dom.js';
import { fmtTime, fmtAgo, fmtNum, shortId } from '../format.js';
import { openDialog, confirmDialog, promptDialog } from '../components/dialog.js';
import { nameFilter } from './experiments.js';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];
const enc = encodeURIComponent;

/** A string literal for an MLflow filter (the text between quotes is taken verbatim). */
export function quoteValue(s) {
  if (!s.includes("'")) return `'${s}'`;
  if (!s.includes('"')) return `"${s}"`;
  throw new Error(`The name ${s} has both kinds of quotes and cannot be searched for`);
}

export async function render(root, params, query) {
  if (params.view === 'model') return renderModel(root, params.name);
  if (params.view === 'version') return renderVersion(root, params.name, params.version);
  return renderList(root, query);
}

// ------------------------------------------------------------------ list

async function renderList(root, query) {
  title('Models');
  const search = h('input', { type: 'search', placeholder: 'Search models by name', value: query.get('q') || '', 'aria-label': 'Search models by name', 'data-hotkey': '/', style: { width: '320px' } });
  const list = h('div');
  mount(root,
    h('div.page-head', h('div.grow', h('h1', 'Registered models'), h('div.sub', 'Models registered from runs, with their versions, stages and aliases.'))),
    h('div.toolbar', search),
    list);
  let seq = 0;
  const refresh = async () => {
    const my = ++seq;
    mount(list, loading('Loading models…'));
    let models;
    try {
      models = await api.searchAll('/mlflow/registered-models/search', { filter: nameFilter(search.value), max_results: 1000 }, 'registered_models', { method: 'GET', limit: 5000 });
    } catch (e) {
      if (my === seq) mount(list, errorBox(e, 'Could not load models'));
      return;
    }
    if (my !== seq) return;
    if (!models.length) {
      mount(list, search.value.trim() ? empty(`No model matches “${search.value}”`)
        : empty('No registered models yet', h('p', 'Register one from a run, e.g. ', h('code', "mlflow.register_model('runs:/<run_id>/model', 'churn')"))));
      return;
    }
    mount(list, table(['Model', 'Latest versions', 'Aliases', 'Last modified', 'Description'], models.map((m) => [
      h('a', { href: `/models/${enc(m.name)}` }, m.name),
      h('span', (m.latest_versions || []).map((v) => h('span.chip', `v${v.version} `, stageBadge(v.current_stage)))),
      h('span', (m.aliases || []).map((a) => h('span.chip.alias', `@${a.alias} → v${a.version}`))),
      h('span', { title: fmtTime(m.last_updated_timestamp) }, fmtAgo(m.last_updated_timestamp)),
      h('td.wrap', (m.description || '').slice(0, 200)),
    ])));
  };
  let t = 0;
  search.addEventListener('input', () => { clearTimeout(t); t = setTimeout(refresh, 200); });
  await refresh();
  return () => clearTimeout(t);
}

// ------------------------------------------------------------------ shared pieces

function notFound(root, what, e) {
  mount(root, h('div.crumbs', h('a', { href: '/models' }, 'Models')),
    empty(`${what} was not found`, h('p.mono', e.message), h('p', h('a', { href: '/models' }, 'See all models'))));
}

/** A tags panel with add / remove. `setTag(k, v)` and `deleteTag(k)` call the API. */
function tagsPanel(tags, { setTag, deleteTag, onChange }) {
  const err = h('div');
  const key = h('input', { type: 'text', placeholder: 'key', 'aria-label': 'Tag key', style: { width: '160px' } });
  const value = h('input', { type: 'text', placeholder: 'value', 'aria-label': 'Tag value', style: { width: '220px' } });
  const add = h('button.btn', { type: 'submit' }, 'Add tag');
  const form = h('form.inline-form', { 'data-testid': 'add-tag' }, key, value, add);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    mount(err);
    if (!key.value.trim()) { mount(err, errorBox(new Error('Give the tag a key.'), 'Tag not added')); return; }
    add.disabled = true;
    try {
      await setTag(key.value.trim(), value.value);
      onChange();
    } catch (ex) {
      mount(err, errorBox(ex, 'Tag not added'));
      add.disabled = false;
    }
  });
  const shown = (tags || []).filter((t) => !t.key.startsWith('mlflow.'));
  return h('div.panel', { 'data-testid': 'tags' }, h('h2', `Tags (${shown.length})`),
    shown.length ? table(['Tag', 'Value', ''], shown.map((t) => [h('span.mono', t.key), h('td.wrap', t.value),
      h('button.btn.small', {
        type: 'button', 'aria-label': `Remove tag ${t.key}`,
        onclick: async () => {
          mount(err);
          try { await deleteTag(t.key); onChange(); } catch (ex) { mount(err, errorBox(ex, 'Tag not removed')); }
        },
      }, 'Remove')])) : h('p.muted', 'No tags.'),
    form, err);
}

function descriptionPanel(text, save) {
  return h('div.panel', { 'data-testid': 'description' },
    h('div.page-head', h('h2.grow', 'Description'),
      h('button.btn.small', {
        type: 'button', 'data-action': 'edit-description',
        onclick: async () => {
          const v = await promptDialog('Edit description', 'Description', { value: text || '', multiline: true, action: save });
          if (v !== undefined) window.kilnNavigate(location.pathname + location.search, { replace: true });
        },
      }, 'Edit')),
    text ? h('p', { style: { whiteSpace: 'pre-wrap' } }, text) : h('p.muted', 'No description.'));
}

/** The stage transition dialog: promote or demote a version. */
async function transition(name, v, stage) {
  const archive = h('input', { type: 'checkbox' });
  const promote = STAGES.indexOf(stage) > STAGES.indexOf(v.current_stage) && stage !== 'Archived';
  const ok = await openDialog({
    title: `${promote ? 'Promote' : 'Move'} ${name} v${v.version} to ${stage}`,
    body: [
      h('p', `Version ${v.version} is in ${v.current_stage}. It will move to ${stage}.`),
      stage === 'Staging' || stage === 'Production'
        ? h('label.check', archive, `Archive the other versions now in ${stage}`) : null,
    ],
    submitLabel: `Move to ${stage}`,
    danger: stage === 'Archived',
    onSubmit: () => api.post('/mlflow/model-versions/transition-stage', {
      name, version: v.version, stage, archive_existing_versions: archive.checked,
    }),
  });
  return !!ok;
}

function stageControl(name, v, onChange) {
  const sel = h('select', { 'aria-label': `Stage of version ${v.version}`, 'data-testid': `stage-select-${v.version}` },
    h('option', { value: '', selected: true }, 'Change stage…'),
    STAGES.filter((s) => s !== v.current_stage).map((s) => h('option', { value: s },
      STAGES.indexOf(s) > STAGES.indexOf(v.current_stage) && s !== 'Archived' ? `Promote to ${s}` : s === 'Archived' ? 'Archive' : `Demote to ${s}`)));
  sel.addEventListener('change', async () => {
    const stage = sel.value;
    sel.value = '';
    if (stage && await transition(name, v, stage)) onChange();
  });
  return sel;
}

function aliasDialog(name, versions, presetVersion) {
  const alias = h('input', { type: 'text', placeholder: 'champion', 'aria-label': 'Alias', autocomplete: 'off' });
  const ver = h('select', { 'aria-label': 'Version' }, versions.map((v) => h('option', { value: v.version, selected: String(v.version) === String(presetVersion) }, `v${v.version}`)));
  return openDialog({
    title: `Set an alias on ${name}`,
    body: [h('label.field', h('span', 'Alias'), alias), h('label.field', h('span', 'Version'), ver),
      h('p.muted', 'An alias points at one version; setting it again moves it.')],
    submitLabel: 'Set alias',
    onSubmit: async () => {
      if (!alias.value.trim()) throw new Error('Give the alias a name.');
      await api.post('/mlflow/registered-models/alias', { name, alias: alias.value.trim(), version: ver.value });
    },
  });
}

// ------------------------------------------------------------------ model

async function renderModel(root, name) {
  title(name);
  mount(root, loading('Loading model…'));
  let model;
  let versions;
  try {
    [model, versions] = await Promise.all([
      api.get('/mlflow/registered-models/get', { name }).then((r) => r.registered_model),
      api.searchAll('/mlflow/model-versions/search', { filter: `name = ${quoteValue(name)}`, max_results: 1000 }, 'model_versions', { method: 'GET' }),
    ]);
  } catch (e) {
    if (e.status === 404) notFound(root, `Model “${name}”`, e); else mount(root, errorBox(e, 'Could not load the model'));
    return undefined;
  }
  versions = versions.filter((v) => v.name === name).sort((a, b) => Number(b.version) - Number(a.version));
  const reload = () => window.kilnNavigate(`/models/${enc(name)}`, { replace: true });
  const aliasErr = h('div');
  const aliases = (model.aliases || []).map((a) => h('span.chip.alias', { 'data-alias': a.alias },
    `@${a.alias} → `, h('a', { href: `/models/${enc(name)}/versions/${enc(a.version)}` }, `v${a.version}`),
    h('button', {
      type: 'button', 'aria-label': `Remove alias ${a.alias}`, title: 'Remove alias',
      onclick: async () => {
        const ok = await confirmDialog(`Remove alias @${a.alias}?`, `@${a.alias} points at version ${a.version}. Clients loading models:/${name}@${a.alias} will fail until it is set again.`,
          { confirmLabel: 'Remove', danger: true, action: () => api.del('/mlflow/registered-models/alias', { name, alias: a.alias }) });
        if (ok) reload();
      },
    }, '×')));
  mount(root,
    h('div.crumbs', h('a', { href: '/models' }, 'Models'), ' / ', name),
    h('div.page-head', h('div.grow', h('h1', name), h('div.sub', `Created ${fmtTime(model.creation_timestamp)} · updated ${fmtAgo(model.last_updated_timestamp)}`))),
    descriptionPanel(model.description, (v) => api.patch('/mlflow/registered-models/update', { name, description: v })),
    h('div.panel', { 'data-testid': 'aliases' }, h('div.page-head', h('h2.grow', 'Aliases'),
      versions.length ? h('button.btn.small', { type: 'button', 'data-action': 'set-alias', onclick: async () => { if (await aliasDialog(name, versions, versions[0].version)) reload(); } }, 'Set alias') : null),
    aliases.length ? h('div', aliases) : h('p.muted', 'No aliases.'), aliasErr),
    h('div.panel', { 'data-testid': 'versions' }, h('h2', `Versions (${versions.length})`),
      versions.length ? table(['Version', 'Stage', 'Aliases', 'Created', 'Source run', 'Description', ''], versions.map((v) => [
        h('a', { href: `/models/${enc(name)}/versions/${enc(v.version)}` }, `Version ${v.version}`),
        stageBadge(v.current_stage),
        h('span', (v.aliases || []).map((a) => h('span.chip.alias', `@${a}`))),
        fmtTime(v.creation_timestamp),
        v.run_id ? h('a.mono', { href: `/runs/${enc(v.run_id)}` }, shortId(v.run_id, 12)) : h('span.muted', '—'),
        h('td.wrap', (v.description || '').slice(0, 160)),
        stageControl(name, v, reload),
      ])) : h('p.muted', 'No versions yet.')),
    tagsPanel(model.tags, {
      setTag: (key, value) => api.post('/mlflow/registered-models/set-tag', { name, key, value }),
      deleteTag: (key) => api.del('/mlflow/registered-models/delete-tag', { name, key }),
      onChange: reload,
    }));
  return undefined;
}

// ------------------------------------------------------------------ version

async function renderVersion(root, name, version) {
  title(`${name} v${version}`);
  mount(root, loading('Loading version…'));
  let v;
  let model;
  try {
    [v, model] = await Promise.all([
      api.get('/mlflow/model-versions/get', { name, version }).then((r) => r.model_version),
      api.get('/mlflow/registered-models/get', { name }).then((r) => r.registered_model),
    ]);
  } catch (e) {
    if (e.status === 404 || e.status === 400) notFound(root, `Version ${version} of “${name}”`, e); else mount(root, errorBox(e, 'Could not load the version'));
    return undefined;
  }
  const reload = () => window.kilnNavigate(`/models/${enc(name)}/versions/${enc(version)}`, { replace: true });
  const runBox = h('div', v.run_id ? loading('Loading source run…') : h('p.muted', 'This version names no source run.'));
  const aliasChips = (v.aliases || []).map((a) => h('span.chip.alias', `@${a}`,
    h('button', {
      type: 'button', 'aria-label': `Remove alias ${a}`,
      onclick: async () => {
        if (await confirmDialog(`Remove alias @${a}?`, `@${a} will no longer point at version ${version}.`,
          { confirmLabel: 'Remove', danger: true, action: () => api.del('/mlflow/registered-models/alias', { name, alias: a }) })) reload();
      },
    }, '×')));
  const stageButtons = STAGES.filter((s) => s !== v.current_stage).map((s) => {
    const up = STAGES.indexOf(s) > STAGES.indexOf(v.current_stage) && s !== 'Archived';
    return h(`button.btn${up ? '.primary' : ''}`, {
      type: 'button', 'data-action': `stage-${s}`,
      onclick: async () => { if (await transition(name, v, s)) reload(); },
    }, up ? `Promote to ${s}` : s === 'Archived' ? 'Archive' : `Demote to ${s}`);
  });
  mount(root,
    h('div.crumbs', h('a', { href: '/models' }, 'Models'), ' / ', h('a', { href: `/models/${enc(name)}` }, name), ` / v${version}`),
    h('div.page-head',
      h('div.grow', h('h1', `${name} `, h('span.muted', `version ${version}`), ' ', stageBadge(v.current_stage)),
        h('div', aliasChips)),
      h('button.btn', { type: 'button', 'data-action': 'set-alias', onclick: async () => { if (await aliasDialog(name, [v], version)) reload(); } }, 'Set alias')),
    h('div.toolbar', { 'data-testid': 'stage-actions' }, h('span.muted', 'Stage:'), stageButtons),
    h('div.grid2',
      h('div.panel', h('h2', 'Details'), h('dl.kv',
        h('dt', 'Stage'), h('dd', stageBadge(v.current_stage)),
        h('dt', 'Status'), h('dd', v.status || ''),
        h('dt', 'Created'), h('dd', fmtTime(v.creation_timestamp)),
        h('dt', 'Updated'), h('dd', fmtTime(v.last_updated_timestamp)),
        h('dt', 'Source'), h('dd.mono', v.source || ''),
        v.model_id ? [h('dt', 'Logged model'), h('dd.mono', v.model_id)] : null,
        h('dt', 'Source run'), h('dd', v.run_id ? h('a.mono', { href: `/runs/${enc(v.run_id)}` }, v.run_id) : '—'),
        v.user_id ? [h('dt', 'User'), h('dd', v.user_id)] : null,
        h('dt', 'Other versions'), h('dd', h('a', { href: `/models/${enc(name)}` }, `${(model.latest_versions || []).length} latest by stage`)))),
      h('div.panel', { 'data-testid': 'version-run' }, h('h2', 'Source run and data'), runBox)),
    descriptionPanel(v.description, (d) => api.patch('/mlflow/model-versions/update', { name, version, description: d })),
    tagsPanel(v.tags, {
      setTag: (key, value) => api.post('/mlflow/model-versions/set-tag', { name, version, key, value }),
      deleteTag: (key) => api.del('/mlflow/model-versions/delete-tag', { name, version, key }),
      onChange: reload,
    }));
  if (v.run_id) {
    try {
      const run = (await api.get('/mlflow/runs/get', { run_id: v.run_id })).run;
      const datasets = (run.inputs && run.inputs.dataset_inputs) || [];
      mount(runBox,
        h('p', h('a', { href: `/runs/${enc(v.run_id)}` }, run.info.run_name), ' ', statusBadge(run.info.status), h('span.muted', ` · ${fmtTime(run.info.start_time)}`)),
        (run.data.metrics || []).length ? table(['Metric', 'Latest'], run.data.metrics.slice(0, 12).map((m) => [h('span.mono', m.key), fmtNum(m.value)]), { numeric: [1] }) : null,
        h('h3', `Datasets (${datasets.length})`),
        datasets.length ? table(['Name', 'Fingerprint', 'Source'], datasets.map((d) => [d.dataset.name, h('span.mono', d.dataset.digest), h('td.wrap.mono', d.dataset.source || '')]))
          : h('p.muted', 'The run logged no dataset inputs.'));
    } catch (e) {
      mount(runBox, errorBox(e, 'Could not load the source run'));
    }
  }
  return undefined;
}
