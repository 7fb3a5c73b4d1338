// Small DOM helpers: `h()` builds elements (text is always set as text, never as
// HTML), plus a few pieces every page uses.

/**
 * h('a.btn.primary', { href: '/x', onclick }, 'text', child, [more]) -> Element.
 * Attributes: `class`, `style` (object), `dataset` (object), `on<event>` listeners,
 * booleans (true sets, false leaves out); everything else via setAttribute.
 */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An error message box (text only). */
export function errorBox(err, title = 'Something went wrong') {
  const msg = err && err.message ? err.message : String(err);
  return h('div.error-box', { role: 'alert' }, h('strong', `${title}: `), msg);
}

export function loading(text = 'Loading…') {
  return h('div.loading', { role: 'status' }, text);
}

export function empty(title, ...body) {
  return h('div.empty', h('strong', title), ...body);
}

export function statusBadge(status) {
  return h(`span.status.${status || 'UNKNOWN'}`, status || '?');
}

export function stageBadge(stage) {
  return h(`span.stage.${stage || 'None'}`, stage || 'None');
}

/** A <table class="data"> from column headers and rows of cells (nodes or text). */
export function table(headers, rows, { numeric = [] } = {}) {
  return h('div.table-scroll', h('table.data',
    h('thead', h('tr', headers.map((t, i) => h(numeric.includes(i) ? 'th.num' : 'th', { scope: 'col' }, t)))),
    h('tbody', rows.map((r) => h('tr', r.map((c, i) => (c instanceof Node && c.tagName === 'TD') ? c : h(numeric.includes(i) ? 'td.num' : 'td', c))))),
  ));
}

/** Runs `fn` at most once per animation frame. */
export function rafThrottle(fn) {
  let queued = false;
  let lastArgs;
  return (...args) => {
    lastArgs = args;
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(...lastArgs); });
  };
}

/** Sets the document title. */
export function title(t) {
  document.title = t ? `${t} · Kiln` : 'Kiln';
}
