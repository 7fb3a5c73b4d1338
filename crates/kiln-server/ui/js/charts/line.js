// A canvas line chart for metric histories: several series, hover values,
// drag-to-zoom on x (double-click or Escape resets), keyboard zoom and pan
// (+ / - / arrows / 0), log-scale y and EMA smoothing (the raw line stays
// faintly behind the smoothed one); series can also be points only or a step line. Drawing is proportional to the points in
// view; the server already sends histories downsampled to about the chart width.

import { h, mount, rafThrottle } from '../dom.js';
import { fmtNum, fmtTick } from '../format.js';
import { niceTicks, logTicks, scale, smooth, nearest, lowerBound, cssVar } from './scale.js';

const M = { l: 58, r: 14, t: 10, b: 26 };
let firstChartMarked = false;

export class LineChart {
  /**
   * `opts`: `{ label, xFormat(v) -> string, onZoom([x0, x1]), onReset() }`.
   * Series: `{ label, color, xs, ys }` with xs sorted ascending; `style: 'dots'` draws
   * points only (`radius`), `step: true` a step line (each value held until the next x).
   */
  constructor(container, opts = {}) {
    this.opts = opts;
    this.series = [];
    this.logY = false;
    this.smoothing = 0;
    this.zoom = null;
    this.hoverPx = null;
    this.drag = null;
    this.message = '';
    this.el = h('div.chart', { tabindex: '0', role: 'img', 'aria-label': opts.label || 'Metric chart' });
    this.canvas = h('canvas');
    this.tip = h('div.tip', { hidden: true });
    this.msgEl = h('div.msg', { hidden: true });
    this.el.append(this.canvas, this.tip, this.msgEl);
    mount(container, this.el);
    this.draw = rafThrottle(() => this.paint());
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.el);
    this.onTheme = () => this.draw();
    window.addEventListener('kiln:theme', this.onTheme);
    this.bindEvents();
  }

  destroy() {
    this.ro.disconnect();
    window.removeEventListener('kiln:theme', this.onTheme);
  }

  setSeries(series) {
    this.series = series.map((s) => ({ ...s, smoothed: smooth(s.ys, this.smoothing) }));
    this.message = '';
    this.draw();
  }

  setOptions({ logY, smoothing, xFormat } = {}) {
    if (logY !== undefined) this.logY = logY;
    if (xFormat !== undefined) this.opts.xFormat = xFormat;
    if (smoothing !== undefined && smoothing !== this.smoothing) {
      this.smoothing = smoothing;
      this.series = this.series.map((s) => ({ ...s, smoothed: smooth(s.ys, smoothing) }));
    }
    this.draw();
  }

  /** Shows a message instead of the chart (loading, error, no data). */
  setMessage(text) {
    this.message = text;
    this.draw();
  }

  setZoom(domain) {
    this.zoom = domain;
    this.draw();
  }

  dataExtent() {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of this.series) {
      if (s.xs.length) {
        lo = Math.min(lo, s.xs[0]);
        hi = Math.max(hi, s.xs[s.xs.length - 1]);
      }
    }
    return lo <= hi ? [lo, hi] : null;
  }

  layout() {
    const w = this.el.clientWidth || 400;
    const hgt = this.el.clientHeight || 240;
    return { w, h: hgt, pw: Math.max(10, w - M.l - M.r), ph: Math.max(10, hgt - M.t - M.b) };
  }

  domains() {
    const ext = this.dataExtent();
    if (!ext) return null;
    let [x0, x1] = this.zoom || ext;
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    let y0 = Infinity;
    let y1 = -Infinity;
    for (const s of this.series) {
      const ys = s.ys;
      const a = Math.max(0, lowerBound(s.xs, x0) - 1);
      const b = Math.min(s.xs.length, lowerBound(s.xs, x1) + 1);
      for (let i = a; i < b; i++) {
        const y = ys[i];
        if (!Number.isFinite(y) || (this.logY && y <= 0)) continue;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    if (!(y0 <= y1)) return { x0, x1, y0: this.logY ? 1 : 0, y1: this.logY ? 10 : 1, empty: true };
    if (this.logY) {
      if (y0 === y1) { y0 /= 2; y1 *= 2; }
      const pad = (Math.log10(y1) - Math.log10(y0)) * 0.05;
      y0 = 10 ** (Math.log10(y0) - pad);
      y1 = 10 ** (Math.log10(y1) + pad);
    } else {
      if (y0 === y1) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
      const pad = (y1 - y0) * 0.06;
      y0 -= pad;
      y1 += pad;
    }
    return { x0, x1, y0, y1 };
  }

  paint() {
    const { w, h: hgt, pw, ph } = this.layout();
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(hgt * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(hgt * dpr);
    }
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const d = this.series.length ? this.domains() : null;
    const msg = this.message || (!d ? 'No data' : d.empty ? (this.logY ? 'No positive values to show on a log scale' : 'Only NaN or infinite values') : '');
    this.msgEl.hidden = !msg;
    this.msgEl.textContent = msg;
    if (!d || this.message) { this.tip.hidden = true; return; }
    const text = cssVar('--muted');
    const grid = cssVar('--border');
    const sx = scale(d.x0, d.x1, M.l, M.l + pw);
    const sy = scale(d.y0, d.y1, M.t + ph, M.t, this.logY);
    this.sx = sx;
    this.sy = sy;

    // Grid and ticks.
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = text;
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const yt = this.logY ? logTicks(d.y0, d.y1) : niceTicks(d.y0, d.y1, Math.max(2, Math.floor(ph / 40)));
    for (const v of yt) {
      const y = Math.round(sy(v)) + 0.5;
      ctx.globalAlpha = 0.6;
      ctx.beginPath(); ctx.moveTo(M.l, y); ctx.lineTo(M.l + pw, y); ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillText(fmtTick(v), M.l - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xf = this.opts.xFormat || fmtTick;
    for (const v of niceTicks(d.x0, d.x1, Math.max(2, Math.floor(pw / 90)))) {
      const x = Math.round(sx(v)) + 0.5;
      ctx.globalAlpha = 0.35;
      ctx.beginPath(); ctx.moveTo(x, M.t); ctx.lineTo(x, M.t + ph); ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillText(xf(v), x, M.t + ph + 6);
    }
    ctx.globalAlpha = 1;
    ctx.strokeRect(M.l + 0.5, M.t + 0.5, pw, ph);

    // Lines.
    ctx.save();
    ctx.beginPath();
    ctx.rect(M.l, M.t, pw, ph);
    ctx.clip();
    for (const s of this.series) {
      const a = Math.max(0, lowerBound(s.xs, d.x0) - 1);
      const b = Math.min(s.xs.length, lowerBound(s.xs, d.x1) + 1);
      const few = b - a <= 60;
      if (s.style === 'dots') {
        this.dots(ctx, s.xs, s.ys, a, b, sx, sy, s.color, s.radius || 3);
      } else if (s.step) {
        this.line(ctx, s.xs, s.ys, a, b, sx, sy, s.color, 1, 1.8, true);
      } else if (this.smoothing > 0) {
        this.line(ctx, s.xs, s.ys, a, b, sx, sy, s.color, 0.25, 1);
        this.line(ctx, s.xs, s.smoothed, a, b, sx, sy, s.color, 1, 1.8);
      } else {
        this.line(ctx, s.xs, s.ys, a, b, sx, sy, s.color, 1, 1.6);
      }
      if (few && s.style !== 'dots' && !s.step) this.dots(ctx, s.xs, this.smoothing > 0 ? s.smoothed : s.ys, a, b, sx, sy, s.color);
    }
    ctx.restore();

    // Drag selection.
    if (this.drag && Math.abs(this.drag.x1 - this.drag.x0) > 2) {
      ctx.fillStyle = cssVar('--focus');
      ctx.globalAlpha = 0.15;
      const x = Math.min(this.drag.x0, this.drag.x1);
      ctx.fillRect(x, M.t, Math.abs(this.drag.x1 - this.drag.x0), ph);
      ctx.globalAlpha = 1;
    }
    this.paintHover(ctx, d, ph);
    if (!this.el.dataset.drawn) {
      this.el.dataset.drawn = '1';
      if (!firstChartMarked && window.performance && performance.mark) {
        firstChartMarked = true;
        performance.mark('kiln:first-chart');
      }
    }
  }

  /** A polyline; with `step`, horizontal then vertical (a value held until the next point). */
  line(ctx, xs, ys, a, b, sx, sy, color, alpha, width, step = false) {
    ctx.strokeStyle = color;
    ctx.globalAlpha = alpha;
    ctx.lineWidth = width;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    let pen = false;
    let lastY = 0;
    for (let i = a; i < b; i++) {
      const y = sy(ys[i]);
      if (!Number.isFinite(y)) { pen = false; continue; }
      const x = sx(xs[i]);
      if (pen) {
        if (step) ctx.lineTo(x, lastY);
        ctx.lineTo(x, y);
      } else { ctx.moveTo(x, y); pen = true; }
      lastY = y;
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  dots(ctx, xs, ys, a, b, sx, sy, color, radius = 2.5) {
    ctx.fillStyle = color;
    for (let i = a; i < b; i++) {
      const y = sy(ys[i]);
      if (!Number.isFinite(y)) continue;
      ctx.beginPath();
      ctx.arc(sx(xs[i]), y, radius, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  paintHover(ctx, d, ph) {
    if (this.hoverPx === null || this.drag) { this.tip.hidden = true; return; }
    const x = this.sx.invert(this.hoverPx);
    const rows = [];
    let snapX = null;
    for (const s of this.series) {
      const i = nearest(s.xs, x);
      if (i < 0) continue;
      const xv = s.xs[i];
      if (xv < d.x0 || xv > d.x1) continue;
      const raw = s.ys[i];
      const sm = this.smoothing > 0 ? s.smoothed[i] : raw;
      const py = this.sy(sm);
      if (snapX === null || Math.abs(this.sx(xv) - this.hoverPx) < Math.abs(this.sx(snapX) - this.hoverPx)) snapX = xv;
      if (Number.isFinite(py)) {
        ctx.fillStyle = s.color;
        ctx.beginPath();
        ctx.arc(this.sx(xv), py, 4, 0, Math.PI * 2);
        ctx.fill();
      }
      rows.push({ s, xv, raw, sm });
    }
    if (!rows.length) { this.tip.hidden = true; return; }
    const px = Math.round(this.sx(snapX)) + 0.5;
    ctx.strokeStyle = cssVar('--muted');
    ctx.globalAlpha = 0.6;
    ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(px, M.t); ctx.lineTo(px, M.t + ph); ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    const xf = this.opts.xFormat || fmtTick;
    rows.sort((p, q) => (Number.isFinite(q.sm) ? q.sm : -Infinity) - (Number.isFinite(p.sm) ? p.sm : -Infinity));
    mount(this.tip,
      h('div.muted', `${this.opts.xName || 'x'}: ${xf(rows[0].xv)}`),
      rows.slice(0, 12).map((r) => h('div.row',
        h('span.swatch', { style: { background: r.s.color } }),
        h('span', r.s.label),
        h('span.v', this.smoothing > 0 ? `${fmtNum(r.sm)} (raw ${fmtNum(r.raw)})` : fmtNum(r.raw)))),
      rows.length > 12 ? h('div.muted', `… ${rows.length - 12} more`) : null);
    this.tip.hidden = false;
    const { w } = this.layout();
    const tw = this.tip.offsetWidth;
    const left = this.hoverPx + 14 + tw > w ? this.hoverPx - 14 - tw : this.hoverPx + 14;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${M.t + 4}px`;
  }

  bindEvents() {
    const pos = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return e.clientX - r.left;
    };
    const inPlot = (x) => x >= M.l && x <= M.l + this.layout().pw;
    this.canvas.addEventListener('mousemove', (e) => {
      const x = pos(e);
      if (this.drag) this.drag.x1 = Math.max(M.l, Math.min(M.l + this.layout().pw, x));
      this.hoverPx = inPlot(x) ? x : null;
      this.draw();
    });
    this.canvas.addEventListener('mouseleave', () => { this.hoverPx = null; this.draw(); });
    this.canvas.addEventListener('mousedown', (e) => {
      const x = pos(e);
      if (e.button !== 0 || !inPlot(x) || !this.sx) return;
      e.preventDefault();
      this.drag = { x0: x, x1: x };
    });
    window.addEventListener('mouseup', () => {
      if (!this.drag) return;
      const { x0, x1 } = this.drag;
      this.drag = null;
      if (Math.abs(x1 - x0) > 5 && this.sx) {
        const a = this.sx.invert(Math.min(x0, x1));
        const b = this.sx.invert(Math.max(x0, x1));
        this.zoomTo([a, b]);
      } else {
        this.draw();
      }
    });
    this.canvas.addEventListener('dblclick', () => this.resetZoom());
    this.el.addEventListener('keydown', (e) => {
      const d = this.sx && this.domains();
      if (!d) return;
      const span = d.x1 - d.x0;
      if (e.key === '+' || e.key === '=') this.zoomTo([d.x0 + span / 4, d.x1 - span / 4]);
      else if (e.key === '-') this.zoomTo([d.x0 - span / 2, d.x1 + span / 2], true);
      else if (e.key === 'ArrowLeft') this.zoomTo([d.x0 - span / 10, d.x1 - span / 10], true);
      else if (e.key === 'ArrowRight') this.zoomTo([d.x0 + span / 10, d.x1 + span / 10], true);
      else if (e.key === '0' || (e.key === 'Escape' && this.zoom)) this.resetZoom();
      else return;
      e.preventDefault();
    });
  }

  zoomTo(domain, clampToData = false) {
    const ext = this.dataExtent();
    let [a, b] = domain;
    if (clampToData && ext && this.opts.fullExtent) {
      const [lo, hi] = this.opts.fullExtent();
      if (b - a >= hi - lo) { this.resetZoom(); return; }
      if (a < lo) { b += lo - a; a = lo; }
      if (b > hi) { a -= b - hi; b = hi; }
    }
    this.zoom = [a, b];
    this.draw();
    if (this.opts.onZoom) this.opts.onZoom(this.zoom);
  }

  resetZoom() {
    const had = !!this.zoom;
    this.zoom = null;
    this.draw();
    if (had && this.opts.onReset) this.opts.onReset();
  }
}
