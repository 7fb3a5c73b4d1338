// The runs table: a virtually scrolled grid (only the rows in view exist in the
// DOM, so 10,000 runs scroll as smoothly as 10), with sortable headers, row
// selection, nested runs folded under their parent and keyboard navigation
// (arrows / Page / Home / End move, Enter opens, Space selects, Right / Left
// unfold / fold).

import { h, mount, rafThrottle } from '../dom.js';

export const ROW_H = 33;
const OVERSCAN = 8;

/**
 * Columns: `{ id, label, group, width, numeric, sortable, title, cell(row) -> Node|string, cellTitle(row) }`.
 * Rows: `{ run, depth, kids, expanded }` where `run.id` is unique.
 */
export function createRunTable({ onSort, onOpen, onToggle, onSelect }) {
  let columns = [];
  let rows = [];
  let sort = null;
  let activeIdx = -1;
  const selected = new Set();
  const rendered = new Map();

  const head = h('div.rt-head', { role: 'row' });
  const body = h('div.rt-body', { role: 'rowgroup' });
  const el = h('div.runtable', { role: 'grid', tabindex: '0', 'aria-label': 'Runs', 'aria-rowcount': '0', 'data-testid': 'runs-table' }, head, body);

  const draw = rafThrottle(drawVisible);
  el.addEventListener('scroll', draw, { passive: true });
  const ro = new ResizeObserver(() => draw());
  ro.observe(el);

  function template() {
    return columns.map((c) => `${c.width || 120}px`).join(' ');
  }

  function drawHead() {
    el.style.setProperty('--cols', template());
    const cells = columns.map((c) => {
      if (c.id === 'select') {
        const cb = h('input', {
          type: 'checkbox', 'aria-label': 'Select or clear the first 100 runs',
          checked: selected.size > 0,
          onclick: (e) => { e.stopPropagation(); },
          onchange: () => {
            if (selected.size) selected.clear();
            else rows.slice(0, 100).forEach((r) => selected.add(r.run.id));
            refresh();
            onSelect && onSelect(selected);
          },
        });
        return h('div.rt-cell', { role: 'columnheader' }, cb);
      }
      const attrs = { role: 'columnheader', title: c.title || c.label };
      if (c.sortable) {
        attrs.tabindex = '0';
        attrs['aria-sort'] = sort && sort.id === c.id ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none';
        attrs.onkeydown = (e) => {
          if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); e.currentTarget.click(); }
        };
        attrs.onclick = () => {
          let next;
          if (!sort || sort.id !== c.id) next = { id: c.id, dir: c.numeric || c.id === 'start' ? 'desc' : 'asc' };
          else if (sort.dir === (c.numeric || c.id === 'start' ? 'desc' : 'asc')) next = { id: c.id, dir: sort.dir === 'asc' ? 'desc' : 'asc' };
          else next = null;
          onSort && onSort(next);
        };
      } else {
        attrs.style = { cursor: 'default' };
      }
      return h(`div.rt-cell${c.numeric ? '.num' : ''}`, attrs, c.group ? h('span.rt-group', c.group) : null, c.label);
    });
    mount(head, cells);
  }

  function makeRow(i) {
    const r = rows[i];
    const run = r.run;
    const cls = ['rt-row'];
    if (selected.has(run.id)) cls.push('selected');
    if (i === activeIdx) cls.push('active');
    if (run.stage === 'deleted') cls.push('deleted');
    const row = h('div', {
      class: cls.join(' '), role: 'row', 'aria-rowindex': String(i + 2),
      'aria-selected': selected.has(run.id) ? 'true' : 'false',
      'data-run-row': run.id, style: { top: `${i * ROW_H}px` },
    });
    for (const c of columns) {
      let content;
      let title;
      if (c.id === 'select') {
        content = h('input', {
          type: 'checkbox', checked: selected.has(run.id), 'aria-label': `Select run ${run.name}`, tabindex: '-1',
          onchange: (e) => toggleSelect(run.id, e.target.checked),
        });
      } else if (c.id === 'name') {
        const toggle = r.kids
          ? h('button.rt-toggle', {
            type: 'button', tabindex: '-1', 'aria-expanded': r.expanded ? 'true' : 'false',
            'aria-label': `${r.expanded ? 'Fold' : 'Unfold'} ${r.kids} child runs`,
            onclick: (e) => { e.stopPropagation(); onToggle && onToggle(run); },
          }, r.expanded ? '▾' : '▸')
          : h('span.rt-toggle', { 'aria-hidden': 'true' }, r.depth ? '↳' : '');
        content = h('span.rt-name', { style: { paddingLeft: `${r.depth * 18}px` } },
          toggle,
          h('a', { href: `/runs/${encodeURIComponent(run.id)}`, tabindex: '-1' }, run.name || run.id),
          r.kids ? h('span.rt-kids', `(${r.kids})`) : null);
        title = run.name;
      } else {
        content = c.cell(run);
        title = c.cellTitle ? c.cellTitle(run) : (typeof content === 'string' ? content : undefined);
      }
      row.appendChild(h(`div.rt-cell${c.numeric ? '.num' : ''}`, { role: 'gridcell', title }, content));
    }
    row.addEventListener('click', (e) => {
      if (e.target.closest('a, button, input')) return;
      setActive(i, false);
    });
    row.addEventListener('dblclick', (e) => {
      if (e.target.closest('a, button, input')) return;
      onOpen && onOpen(run);
    });
    return row;
  }

  function drawVisible() {
    const top = el.scrollTop;
    const height = el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(rows.length - 1, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    for (const [i, node] of rendered) {
      if (i < first || i > last) { node.remove(); rendered.delete(i); }
    }
    const frag = document.createDocumentFragment();
    for (let i = first; i <= last; i++) {
      if (!rendered.has(i)) {
        const node = makeRow(i);
        rendered.set(i, node);
        frag.appendChild(node);
      }
    }
    body.appendChild(frag);
  }

  function refresh() {
    for (const node of rendered.values()) node.remove();
    rendered.clear();
    body.style.height = `${rows.length * ROW_H}px`;
    el.setAttribute('aria-rowcount', String(rows.length + 1));
    drawHead();
    drawVisible();
  }

  function toggleSelect(id, on) {
    if (on) selected.add(id); else selected.delete(id);
    refresh();
    onSelect && onSelect(selected);
  }

  function setActive(i, scroll = true) {
    if (!rows.length) return;
    activeIdx = Math.max(0, Math.min(rows.length - 1, i));
    if (scroll) {
      const y = activeIdx * ROW_H;
      const headH = head.offsetHeight || ROW_H;
      if (y < el.scrollTop) el.scrollTop = y;
      else if (y + ROW_H > el.scrollTop + el.clientHeight - headH) el.scrollTop = y + ROW_H - el.clientHeight + headH;
    }
    refresh();
  }

  el.addEventListener('keydown', (e) => {
    if (e.target !== el) return;
    const page = Math.max(1, Math.floor(el.clientHeight / ROW_H) - 2);
    const r = rows[activeIdx];
    switch (e.key) {
      case 'ArrowDown': setActive(activeIdx + 1); break;
      case 'ArrowUp': setActive(activeIdx - 1); break;
      case 'PageDown': setActive(activeIdx + page); break;
      case 'PageUp': setActive(activeIdx - page); break;
      case 'Home': setActive(0); break;
      case 'End': setActive(rows.length - 1); break;
      case 'Enter': if (r) onOpen && onOpen(r.run); break;
      case ' ': if (r) toggleSelect(r.run.id, !selected.has(r.run.id)); break;
      case 'ArrowRight': if (r && r.kids && !r.expanded) onToggle && onToggle(r.run); break;
      case 'ArrowLeft': if (r && r.kids && r.expanded) onToggle && onToggle(r.run); break;
      default: return;
    }
    e.preventDefault();
  });
  el.addEventListener('focus', () => { if (activeIdx < 0 && rows.length) setActive(0); });

  return {
    el,
    selected,
    setColumns(c) { columns = c; refresh(); },
    setRows(r, { keepScroll = true } = {}) {
      rows = r;
      if (!keepScroll) el.scrollTop = 0;
      if (activeIdx >= rows.length) activeIdx = rows.length - 1;
      refresh();
    },
    setSort(s) { sort = s; drawHead(); },
    clearSelection() { selected.clear(); refresh(); onSelect && onSelect(selected); },
    destroy() { ro.disconnect(); },
  };
}
