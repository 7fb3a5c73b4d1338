// The experiments list: search by name, create, rename, delete and restore, with
// each experiment's run count and last activity (Kiln's experiments/list).

import * as api from '../api.js';
import { h, mount, errorBox, loading, empty, title } from '../dom.js';
import { fmtAgo, fmtTime, fmtCount } from '../format.js';
import { openDialog, confirmDialog, promptDialog } from '../components/dialog.js';

/** An MLflow filter for names containing `q` (case-insensitive). */
export function nameFilter(q) {
  q = q.trim();
  if (!q) return '';
  if (!q.includes("'")) return `name ILIKE '%${q}%'`;
  if (!q.includes('"')) return `name ILIKE "%${q}%"`;
  return `name ILIKE '%${q.replaceAll("'", '_')}%'`;
}

export async function render(root, _params, query) {
  title('Experiments');
  const state = { q: query.get('q') || '', deleted: query.get('deleted') === '1' };
  const listEl = h('div');
  const search = h('input', {
    type: 'search', placeholder: 'Search experiments by name', value: state.q,
    'aria-label': 'Search experiments by name', 'data-hotkey': '/', style: { width: '320px' },
  });
  const showDeleted = h('input', { type: 'checkbox', checked: state.deleted });
  let timer = 0;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = search.value; syncUrl(); refresh(); }, 200);
  });
  showDeleted.addEventListener('change', () => { state.deleted = showDeleted.checked; syncUrl(); refresh(); });

  function syncUrl() {
    const p = new URLSearchParams();
    if (state.q) p.set('q', state.q);
    if (state.deleted) p.set('deleted', '1');
    const s = p.toString();
    history.replaceState(null, '', `${location.pathname}${s ? `?${s}` : ''}`);
  }

  mount(root,
    h('div.page-head',
      h('div.grow', h('h1', 'Experiments'), h('div.sub', 'Runs are grouped into experiments. Open one to see its runs.')),
      h('button.btn.primary', { type: 'button', onclick: create, 'data-action': 'create-experiment' }, 'New experiment')),
    h('div.toolbar', search, h('label.check', showDeleted, 'Show deleted')),
    listEl);

  let seq = 0;
  async function refresh() {
    const my = ++seq;
    mount(listEl, loading('Loading experiments…'));
    let exps;
    try {
      exps = await api.searchAll('/kiln/experiments/list', {
        filter: nameFilter(state.q),
        view_type: state.deleted ? 'DELETED_ONLY' : 'ACTIVE_ONLY',
        max_results: 1000,
        order_by: ['last_update_time DESC'],
      }, 'experiments', { method: 'GET', limit: 5000 });
    } catch (e) {
      if (my === seq) mount(listEl, errorBox(e, 'Could not load experiments'));
      return;
    }
    if (my !== seq) return;
    exps.sort((a, b) => (b.last_activity || 0) - (a.last_activity || 0));
    if (!exps.length) {
      mount(listEl, state.q || state.deleted
        ? empty(state.deleted ? 'No deleted experiments' : `No experiment matches “${state.q}”`, 'Try another search.')
        : empty('No experiments yet',
          h('p', 'Create one here, or point an MLflow client at this server:'),
          h('p', h('code', `MLFLOW_TRACKING_URI=${location.origin}`))));
      return;
    }
    mount(listEl, h('div.table-scroll', h('table.data', { 'data-testid': 'experiments' },
      h('thead', h('tr',
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'ID'),
        h('th.num', { scope: 'col' }, 'Runs'), h('th.num', { scope: 'col' }, 'Running'),
        h('th', { scope: 'col' }, 'Last activity'), h('th', { scope: 'col' }, 'Created'),
        h('th', { scope: 'col' }, h('span.muted', 'Actions')))),
      h('tbody', exps.map((e) => row(e))))));
  }

  function row(e) {
    const deleted = e.lifecycle_stage === 'deleted';
    const actions = deleted
      ? [h('button.btn.small', { type: 'button', onclick: () => restore(e) }, 'Restore')]
      : [
        h('button.btn.small', { type: 'button', onclick: () => rename(e), 'aria-label': `Rename ${e.name}` }, 'Rename'),
        e.experiment_id === '0' ? null
          : h('button.btn.small.danger', { type: 'button', onclick: () => remove(e), 'aria-label': `Delete ${e.name}` }, 'Delete'),
      ];
    return h('tr', { 'data-experiment': e.experiment_id },
      h('td', deleted ? h('span', e.name) : h('a', { href: `/experiments/${encodeURIComponent(e.experiment_id)}` }, e.name)),
      h('td.mono', e.experiment_id),
      h('td.num', fmtCount(e.run_count)),
      h('td.num', e.running_runs ? fmtCount(e.running_runs) : ''),
      h('td', { title: fmtTime(e.last_activity) }, fmtAgo(e.last_activity)),
      h('td', fmtTime(e.creation_time)),
      h('td', actions));
  }

  async function create() {
    const name = await promptDialog('New experiment', 'Name', {
      submitLabel: 'Create',
      placeholder: 'e.g. churn-model',
      action: async (v) => {
        if (!v.trim()) throw new Error('Give the experiment a name.');
        await api.post('/mlflow/experiments/create', { name: v.trim() });
      },
    });
    if (name !== undefined) refresh();
  }

  async function rename(e) {
    const v = await promptDialog(`Rename “${e.name}”`, 'New name', {
      value: e.name,
      submitLabel: 'Rename',
      action: (name) => api.post('/mlflow/experiments/update', { experiment_id: e.experiment_id, new_name: name.trim() }),
    });
    if (v !== undefined) refresh();
  }

  async function remove(e) {
    const ok = await confirmDialog(`Delete “${e.name}”?`,
      `The experiment and its ${fmtCount(e.run_count)} runs are marked deleted. You can restore them from “Show deleted”.`,
      { confirmLabel: 'Delete', danger: true, action: () => api.post('/mlflow/experiments/delete', { experiment_id: e.experiment_id }) });
    if (ok) refresh();
  }

  async function restore(e) {
    try {
      await api.post('/mlflow/experiments/restore', { experiment_id: e.experiment_id });
    } catch (err) {
      await openDialog({ title: 'Restore failed', body: errorBox(err), submitLabel: 'OK' });
    }
    refresh();
  }

  await refresh();
  return () => clearTimeout(timer);
}
