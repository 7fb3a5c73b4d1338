// The runs filter input: MLflow's search grammar (`metrics.loss < 0.5 and
// params.model = 'gbm'`), with completion of keys (the experiment's params,
// metrics and tags, the run attributes), comparators and AND. The filter is
// checked by the server; its error message is shown under the box.

import { h, mount } from '../dom.js';

export const ATTRIBUTES = ['run_name', 'run_id', 'status', 'start_time', 'end_time', 'user_id', 'artifact_uri'];
const DATASET_KEYS = ['name', 'digest', 'context'];
const COMPARATORS = ['=', '!=', '>', '>=', '<', '<=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS NULL', 'IS NOT NULL'];
const PREFIXES = ['metrics.', 'params.', 'tags.', 'attributes.', 'datasets.'];

/** A key as it must be written in a filter: back-quoted unless a plain identifier. */
export function quoteKey(k) {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `\`${k.replaceAll('`', '')}\``;
}

function kindOf(prefix) {
  switch (prefix.toLowerCase()) {
    case 'metric': case 'metrics': return 'metrics';
    case 'param': case 'params': case 'parameter': case 'parameters': return 'params';
    case 'tag': case 'tags': return 'tags';
    case 'attribute': case 'attributes': case 'attr': case 'run': return 'attributes';
    case 'dataset': case 'datasets': return 'datasets';
    default: return null;
  }
}

/**
 * Suggestions for the text before the cursor: `{ start, items: [{label, insert, kind}] }`
 * where `start` is where the replaced token begins. Exported for tests.
 */
export function suggest(before, keys) {
  const m = before.match(/(?:^|[\s(,])([A-Za-z_]+(?:\.(?:`[^`]*|"[^"]*|[^\s=<>!`'"]*))?)$/);
  const token = m ? m[1] : '';
  const start = before.length - token.length;
  const head = before.slice(0, start).trimEnd();
  const keyPosition = head === '' || /\band$/i.test(head);
  if (keyPosition) return { start, items: keyItems(token, keys) };
  // After `<key> ` suggest comparators; after a complete comparison suggest AND.
  if (token === '' && /\s$/.test(before)) {
    if (/(?:^|\s)[A-Za-z_]+\.(?:`[^`]+`|"[^"]+"|[^\s=<>!'"`]+)$|(?:^|\s)(?:run_name|run_id|status|start_time|end_time|user_id|artifact_uri)$/i.test(head)) {
      return { start, items: COMPARATORS.map((c) => ({ label: c, insert: `${c} `, kind: 'comparator' })) };
    }
    if (/('[^']*'|"[^"]*"|\d|\)|NULL)$/i.test(head)) return { start, items: [{ label: 'AND', insert: 'AND ', kind: 'keyword' }] };
  }
  if (/^a(n(d)?)?$/i.test(token) && /('[^']*'|"[^"]*"|\d|\)|NULL)$/i.test(head)) {
    return { start, items: [{ label: 'AND', insert: 'AND ', kind: 'keyword' }] };
  }
  return { start, items: [] };
}

function keyItems(token, keys) {
  const dot = token.indexOf('.');
  const out = [];
  if (dot >= 0) {
    const prefix = token.slice(0, dot);
    const kind = kindOf(prefix);
    if (!kind) return out;
    const rest = token.slice(dot + 1).replace(/^[`"]/, '').toLowerCase();
    const pool = kind === 'attributes' ? ATTRIBUTES : kind === 'datasets' ? DATASET_KEYS : (keys[kind] || []);
    const starts = [];
    const contains = [];
    for (const k of pool) {
      const lk = k.toLowerCase();
      if (lk.startsWith(rest)) starts.push(k);
      else if (rest && lk.includes(rest)) contains.push(k);
      if (starts.length > 200) break;
    }
    for (const k of [...starts, ...contains].slice(0, 100)) {
      out.push({ label: `${prefix}.${k}`, insert: `${prefix}.${quoteKey(k)} `, kind: kind.replace(/s$/, '') });
    }
    return out;
  }
  const t = token.toLowerCase();
  for (const p of PREFIXES) if (p.startsWith(t)) out.push({ label: p, insert: p, kind: 'prefix', keepOpen: true });
  if (t) {
    for (const [kind, prefix] of [['metrics', 'metrics'], ['params', 'params'], ['tags', 'tags']]) {
      for (const k of keys[kind] || []) {
        if (k.toLowerCase().includes(t)) out.push({ label: `${prefix}.${k}`, insert: `${prefix}.${quoteKey(k)} `, kind: kind.replace(/s$/, '') });
        if (out.length > 60) break;
      }
    }
    for (const a of ATTRIBUTES) if (a.includes(t)) out.push({ label: `attributes.${a}`, insert: `attributes.${a} `, kind: 'attribute' });
  }
  return out.slice(0, 100);
}

/** The filter box. `onApply(filter)` runs on Enter / Apply; show its errors with `setError`. */
export function createFilterBox({ value = '', keys = {}, onApply, placeholder }) {
  let allKeys = keys;
  let items = [];
  let active = -1;
  let start = 0;
  const input = h('input', {
    type: 'text', value, spellcheck: 'false', autocomplete: 'off',
    placeholder: placeholder || "Filter runs: metrics.loss < 0.5 and params.model = 'gbm'",
    'aria-label': 'Filter runs (MLflow search syntax)', 'data-hotkey': '/',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'filter-suggest',
  });
  const list = h('ul.suggest', { id: 'filter-suggest', role: 'listbox', hidden: true });
  const err = h('div', { role: 'alert', 'data-testid': 'filter-error' });
  const apply = h('button.btn', { type: 'button', onclick: () => run() }, 'Apply');
  const clear = h('button.btn.ghost', { type: 'button', onclick: () => { input.value = ''; run(); } }, 'Clear');
  const box = h('div.filterbox', input, list, apply, clear);
  const el = h('div.grow', box, err,
    h('div.filter-help', 'Type to complete keys; Enter applies. Combine comparisons with AND; strings in quotes.'));

  function run() {
    close();
    onApply(input.value.trim());
  }

  function close() {
    list.hidden = true;
    items = [];
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function show() {
    const pos = input.selectionStart ?? input.value.length;
    const s = suggest(input.value.slice(0, pos), allKeys);
    items = s.items;
    start = s.start;
    active = -1;
    if (!items.length) { close(); return; }
    mount(list, items.map((it, i) => h('li', {
      id: `filter-opt-${i}`, role: 'option', 'aria-selected': 'false',
      onmousedown: (e) => { e.preventDefault(); accept(i); },
    }, it.label, h('span.kind', it.kind))));
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  function highlight(i) {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', j === i ? 'true' : 'false'));
    if (i >= 0 && list.children[i]) {
      list.children[i].scrollIntoView({ block: 'nearest' });
      input.setAttribute('aria-activedescendant', `filter-opt-${i}`);
    }
  }

  function accept(i) {
    const it = items[i];
    if (!it) return;
    const pos = input.selectionStart ?? input.value.length;
    const afterRaw = input.value.slice(pos);
    // Replace the rest of the current token as well.
    const tail = afterRaw.match(/^[^\s=<>!]*/)[0];
    const after = afterRaw.slice(tail.length);
    input.value = input.value.slice(0, start) + it.insert + after.replace(/^\s+/, it.insert.endsWith(' ') ? '' : ' ');
    const caret = start + it.insert.length;
    input.setSelectionRange(caret, caret);
    input.focus();
    show();
    if (!it.keepOpen && !items.length) close();
  }

  input.addEventListener('input', show);
  input.addEventListener('click', show);
  input.addEventListener('focus', show);
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (e) => {
    const open = !list.hidden && items.length;
    if (e.key === 'ArrowDown' && open) { e.preventDefault(); highlight(Math.min(items.length - 1, active + 1)); }
    else if (e.key === 'ArrowUp' && open) { e.preventDefault(); highlight(Math.max(0, active - 1)); }
    else if ((e.key === 'Enter' || e.key === 'Tab') && open && active >= 0) { e.preventDefault(); accept(active); }
    else if (e.key === 'Tab' && open && items.length === 1) { e.preventDefault(); accept(0); }
    else if (e.key === 'Enter') { e.preventDefault(); run(); }
    else if (e.key === 'Escape' && open) { e.preventDefault(); e.stopPropagation(); close(); }
    else if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); show(); }
  });

  return {
    el,
    input,
    setKeys(k) { allKeys = k; },
    setValue(v) { input.value = v; },
    setError(msg) {
      if (msg) {
        mount(err, h('div.error-box', h('strong', 'The filter was not applied: '), msg));
        input.classList.add('invalid');
        input.setAttribute('aria-invalid', 'true');
      } else {
        mount(err);
        input.classList.remove('invalid');
        input.removeAttribute('aria-invalid');
      }
    },
  };
}
