// A scatter plot (SVG) of one value against another across runs: numeric axes
// are linear, text values become categories. Points are focusable; hover or focus
// shows the run and its values, click or Enter opens the run.

import { h, mount } from '../dom.js';
import { fmtNum, fmtTick } from '../format.js';
import { niceTicks, scale, svg } from './scale.js';
import { axisDomain } from './parallel.js';

function axis(d, r0, r1) {
  if (d.numeric) {
    const pad = (d.max - d.min) * 0.06;
    const f = scale(d.min - pad, d.max + pad, r0, r1);
    return { f, ticks: niceTicks(d.min - pad, d.max + pad, 6).map((v) => [v, fmtTick(v)]) };
  }
  const n = d.categories.length;
  const f = (v) => {
    const i = d.categories.indexOf(String(v));
    return i < 0 ? NaN : r0 + ((i + 0.5) / n) * (r1 - r0);
  };
  return { f, ticks: d.categories.slice(0, 30).map((c) => [c, c.length > 12 ? `${c.slice(0, 11)}…` : c]) };
}

/**
 * `points`: `[{ x, y, label, color, run, cls }]` (`cls`: an extra class of the point);
 * `lines`: optional `[{ points: [{ x, y }], color, label }]` drawn under the points
 * (numeric axes only), e.g. a Pareto front; `noun`: what a point is (`run`, `trial`).
 */
export function scatterPlot(container, { points, xLabel, yLabel, onOpen, lines = [], noun = 'run' }) {
  const width = Math.max(420, container.clientWidth || 700);
  const height = 360;
  const m = { l: 64, r: 16, t: 14, b: 44 };
  const usable = points.filter((p) => p.x !== null && p.x !== undefined && p.x !== '' && p.y !== null && p.y !== undefined && p.y !== '');
  if (!usable.length) {
    mount(container, h('p.muted', `No ${noun} has both ${xLabel} and ${yLabel}.`));
    return;
  }
  const dx = axisDomain(usable.map((p) => p.x));
  const dy = axisDomain(usable.map((p) => p.y));
  const ax = axis(dx, m.l, width - m.r);
  const ay = axis(dy, height - m.b, m.t);
  const tip = h('div.tip', { hidden: true });
  const root = svg('svg', { class: 'plot', viewBox: `0 0 ${width} ${height}`, height, role: 'img', 'aria-label': `Scatter of ${yLabel} against ${xLabel} for ${usable.length} ${noun}s` });
  const grid = svg('g', { class: 'grid' });
  const axes = svg('g', { class: 'axis' });
  for (const [v, label] of ax.ticks) {
    const x = ax.f(v);
    if (!Number.isFinite(x)) continue;
    grid.appendChild(svg('line', { x1: x, x2: x, y1: m.t, y2: height - m.b }));
    axes.appendChild(svg('text', { x, y: height - m.b + 16, 'text-anchor': 'middle' }, label));
  }
  for (const [v, label] of ay.ticks) {
    const y = ay.f(v);
    if (!Number.isFinite(y)) continue;
    grid.appendChild(svg('line', { x1: m.l, x2: width - m.r, y1: y, y2: y }));
    axes.appendChild(svg('text', { x: m.l - 6, y: y + 3, 'text-anchor': 'end' }, label));
  }
  axes.appendChild(svg('path', { d: `M${m.l},${m.t}V${height - m.b}H${width - m.r}`, fill: 'none' }));
  axes.appendChild(svg('text', { class: 'axis-title', x: (m.l + width - m.r) / 2, y: height - 6, 'text-anchor': 'middle' }, xLabel));
  axes.appendChild(svg('text', { class: 'axis-title', x: 14, y: (m.t + height - m.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(m.t + height - m.b) / 2})` }, yLabel));
  root.append(grid, axes);
  if (dx.numeric && dy.numeric) {
    for (const l of lines) {
      const d = l.points
        .map((p) => [ax.f(Number(p.x)), ay.f(Number(p.y))])
        .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
        .map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`)
        .join('');
      if (d) root.appendChild(svg('path', { class: 'sc-line', d, stroke: l.color, fill: 'none', 'aria-label': l.label }));
    }
  }
  const fmt = (v) => (typeof v === 'number' ? fmtNum(v) : String(v));
  for (const p of usable) {
    const cx = ax.f(dx.numeric ? Number(p.x) : p.x);
    const cy = ay.f(dy.numeric ? Number(p.y) : p.y);
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) continue;
    const c = svg('circle', { class: p.cls ? `pt ${p.cls}` : 'pt', cx, cy, r: 6, fill: p.color, tabindex: '0', 'data-run': p.run.id, 'aria-label': `${p.label}: ${xLabel} ${fmt(p.x)}, ${yLabel} ${fmt(p.y)}` });
    const show = () => {
      mount(tip, h('strong', p.label), h('div', `${xLabel}: ${fmt(p.x)}`), h('div', `${yLabel}: ${fmt(p.y)}`));
      tip.hidden = false;
      const sc = (container.clientWidth || width) / width;
      tip.style.left = `${Math.min(cx * sc + 12, (container.clientWidth || width) - 200)}px`;
      tip.style.top = `${cy * sc + 12}px`;
    };
    c.addEventListener('mouseenter', show);
    c.addEventListener('focus', show);
    c.addEventListener('mouseleave', () => { tip.hidden = true; });
    c.addEventListener('blur', () => { tip.hidden = true; });
    if (onOpen) {
      c.addEventListener('click', () => onOpen(p.run));
      c.addEventListener('keydown', (e) => { if (e.key === 'Enter') onOpen(p.run); });
    }
    root.appendChild(c);
  }
  mount(container, h('div.plot-wrap', root, tip));
}
