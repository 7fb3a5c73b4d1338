// Parallel coordinates (SVG): one vertical axis per chosen param or metric, one
// line per run, coloured by the last axis. Numeric axes are linear; text values
// become evenly spaced categories. A missing value breaks the run's line. Hovering
// or focusing a line highlights it and lists the run's values.

import { h, mount } from '../dom.js';
import { fmtNum, fmtTick } from '../format.js';
import { niceTicks, scale, ramp, svg } from './scale.js';

/** `{ numeric, min, max }` or `{ categories }` for one axis's values. */
export function axisDomain(values) {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  const nums = present.map((v) => (typeof v === 'number' ? v : Number(v)));
  if (present.length && nums.every((n) => Number.isFinite(n))) {
    let min = Math.min(...nums);
    let max = Math.max(...nums);
    if (min === max) { min -= Math.abs(min) * 0.1 || 1; max += Math.abs(max) * 0.1 || 1; }
    return { numeric: true, min, max };
  }
  const categories = [...new Set(present.map(String))].sort();
  return { numeric: false, categories };
}

/**
 * `axes`: `[{ label, values }]` where `values[i]` belongs to `runs[i]`;
 * `runs`: `[{ id, name, color }]`. Draws into `container`.
 */
export function parallelCoordinates(container, { axes, runs, onOpen }) {
  const width = Math.max(480, container.clientWidth || 900);
  const height = 380;
  const m = { l: 40, r: 60, t: 42, b: 24 };
  const tip = h('div.tip', { hidden: true });
  if (axes.length < 2) {
    mount(container, h('p.muted', 'Choose at least two axes.'));
    return;
  }
  const step = (width - m.l - m.r) / (axes.length - 1);
  const doms = axes.map((a) => axisDomain(a.values));
  const missing = (v) => v === null || v === undefined || v === '';
  const ys = doms.map((d) => (d.numeric
    ? ((f) => (v) => (missing(v) ? NaN : f(Number(v))))(scale(d.min, d.max, height - m.b, m.t))
    : (v) => {
      const i = d.categories.indexOf(String(v));
      return i < 0 ? NaN : height - m.b - (d.categories.length === 1 ? 0.5 : i / (d.categories.length - 1)) * (height - m.t - m.b);
    }));
  const colorDom = doms[doms.length - 1];
  const colorOfRun = (i) => {
    const v = axes[axes.length - 1].values[i];
    if (!colorDom.numeric) return runs[i].color;
    const n = Number(v);
    return Number.isFinite(n) ? ramp((n - colorDom.min) / (colorDom.max - colorDom.min)) : '#999999';
  };
  const root = svg('svg', { class: 'plot', viewBox: `0 0 ${width} ${height}`, height, role: 'img', 'aria-label': `Parallel coordinates of ${runs.length} runs over ${axes.length} axes` });
  // Axes.
  axes.forEach((a, j) => {
    const x = m.l + j * step;
    const d = doms[j];
    const g = svg('g', { class: 'axis' });
    g.appendChild(svg('line', { x1: x, x2: x, y1: m.t, y2: height - m.b }));
    const ticks = d.numeric ? niceTicks(d.min, d.max, 5).map((v) => [v, fmtTick(v)]) : d.categories.slice(0, 20).map((c) => [c, c.length > 14 ? `${c.slice(0, 13)}…` : c]);
    for (const [v, label] of ticks) {
      const y = ys[j](v);
      if (!Number.isFinite(y)) continue;
      g.appendChild(svg('line', { x1: x - 4, x2: x, y1: y, y2: y }));
      g.appendChild(svg('text', { x: x - 6, y: y + 3, 'text-anchor': 'end' }, label));
    }
    const t = a.label.length > 22 ? `${a.label.slice(0, 21)}…` : a.label;
    g.appendChild(svg('text', { class: 'axis-title', x, y: m.t - 14, 'text-anchor': 'middle' }, svg('title', {}, a.label), t));
    root.appendChild(g);
  });
  // Lines.
  const lines = runs.map((r, i) => {
    let d = '';
    let pen = false;
    axes.forEach((a, j) => {
      const y = ys[j](a.values[i]);
      if (!Number.isFinite(y)) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${(m.l + j * step).toFixed(1)},${y.toFixed(1)}`;
      pen = true;
    });
    const path = svg('path', { class: 'pc-line', d, stroke: colorOfRun(i), tabindex: '0', 'data-run': r.id, 'aria-label': r.name });
    const show = (ev) => {
      for (const p of lines) p.classList.toggle('dim', p !== path);
      path.classList.add('hot');
      mount(tip, h('strong', r.name), axes.map((a) => h('div', `${a.label}: ${a.values[i] === null || a.values[i] === undefined ? '—' : typeof a.values[i] === 'number' ? fmtNum(a.values[i]) : a.values[i]}`)));
      tip.hidden = false;
      const box = container.getBoundingClientRect();
      const px = ev && ev.clientX ? ev.clientX - box.left : width / 2;
      const py = ev && ev.clientY ? ev.clientY - box.top : 40;
      tip.style.left = `${Math.min(px + 12, box.width - 220)}px`;
      tip.style.top = `${py + 12}px`;
    };
    const hide = () => {
      for (const p of lines) p.classList.remove('dim', 'hot');
      tip.hidden = true;
    };
    path.addEventListener('mousemove', show);
    path.addEventListener('focus', () => show(null));
    path.addEventListener('mouseleave', hide);
    path.addEventListener('blur', hide);
    if (onOpen) {
      path.addEventListener('click', () => onOpen(r));
      path.addEventListener('keydown', (e) => { if (e.key === 'Enter') onOpen(r); });
      path.style.cursor = 'pointer';
    }
    return path;
  });
  lines.forEach((p) => root.appendChild(p));
  // Colour legend for the last axis.
  if (colorDom.numeric) {
    const x = width - m.r + 24;
    const n = 20;
    for (let k = 0; k < n; k++) {
      const y0 = m.t + (k / n) * (height - m.t - m.b);
      root.appendChild(svg('rect', { x, y: y0, width: 10, height: (height - m.t - m.b) / n + 0.5, fill: ramp(1 - k / n) }));
    }
    root.appendChild(svg('text', { x: x + 5, y: m.t - 4, 'text-anchor': 'middle' }, 'colour'));
  }
  mount(container, h('div.plot-wrap', root, tip));
}
