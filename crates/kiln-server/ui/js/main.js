// The UI's entry point: a history-API router over the pages, the colour theme,
// the connection indicator and the error banner. Any error no page handled is
// shown in the banner (never only in the console), and a page that fails to
// render shows its error in place of its content.

import { h, mount, errorBox } from './dom.js';
import { load, save } from './state.js';

const routes = [
  [/^\/$/, () => import('./pages/experiments.js'), () => ({})],
  [/^\/experiments\/?$/, () => import('./pages/experiments.js'), () => ({})],
  [/^\/experiments\/([^/]+)\/?$/, () => import('./pages/experiment.js'), (m) => ({ id: m[1] })],
  [/^\/runs\/([^/]+)\/?$/, () => import('./pages/run.js'), (m) => ({ id: m[1] })],
  [/^\/compare\/?$/, () => import('./pages/compare.js'), () => ({})],
  [/^\/models\/?$/, () => import('./pages/models.js'), () => ({ view: 'list' })],
  [/^\/models\/([^/]+)\/?$/, () => import('./pages/models.js'), (m) => ({ view: 'model', name: m[1] })],
  [/^\/models\/([^/]+)\/versions\/([^/]+)\/?$/, () => import('./pages/models.js'), (m) => ({ view: 'version', name: m[1], version: m[2] })],
  [/^\/studies\/?$/, () => import('./pages/studies.js'), () => ({})],
  [/^\/studies\/([^/]+)\/?$/, () => import('./pages/studies.js'), (m) => ({ name: m[1] })],
];

const main = document.getElementById('main');
let cleanup = null;
let renderSeq = 0;

function decode(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** Renders the page for the current location. */
async function render() {
  const seq = ++renderSeq;
  if (typeof cleanup === 'function') {
    try { cleanup(); } catch (e) { showBanner(e); }
  }
  cleanup = null;
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  let found = null;
  for (const [re, loader, params] of routes) {
    const m = path.match(re);
    if (m) {
      const p = params(m);
      for (const k of Object.keys(p)) p[k] = decode(p[k]);
      found = { loader, params: p };
      break;
    }
  }
  setActiveNav(path);
  try {
    const mod = found ? await found.loader() : await import('./pages/notfound.js');
    if (seq !== renderSeq) return;
    const page = h('div.page');
    mount(main, page);
    const c = await mod.render(page, found ? found.params : {}, query);
    if (seq !== renderSeq) {
      if (typeof c === 'function') c();
      return;
    }
    cleanup = c;
  } catch (e) {
    if (seq !== renderSeq) return;
    mount(main, errorBox(e, 'This page could not be shown'));
  }
}

function setActiveNav(path) {
  const section = path.startsWith('/models') ? 'models' : path.startsWith('/studies') ? 'studies' : 'experiments';
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === section);
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Client-side navigation (pushState + render). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render().then(() => { if (!replace) window.scrollTo(0, 0); });
}
window.kilnNavigate = navigate;

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/ajax-api') || href.startsWith('/api') || href.startsWith('/static')) return;
  e.preventDefault();
  navigate(href);
});
window.addEventListener('popstate', () => render());

// ------------------------------------------------------------------ banner

const banner = document.getElementById('banner');
function showBanner(err) {
  const msg = err && err.message ? err.message : String(err);
  mount(banner,
    h('span.msg', msg),
    h('button.btn.small', { type: 'button', onclick: () => { banner.hidden = true; } }, 'Dismiss'));
  banner.hidden = false;
}
window.kilnShowError = showBanner;

window.addEventListener('error', (e) => {
  showBanner(e.error || e.message);
});
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  if (e.reason && e.reason.name === 'AbortError') return;
  showBanner(e.reason);
});

const conn = document.getElementById('conn');
window.addEventListener('kiln:offline', (e) => {
  conn.textContent = 'Server unreachable';
  conn.className = 'conn down';
  showBanner(e.detail || 'Cannot reach the Kiln server.');
});
window.addEventListener('kiln:online', () => {
  conn.textContent = '';
  conn.className = 'conn';
  banner.hidden = true;
});

// ------------------------------------------------------------------ theme

const THEMES = ['auto', 'light', 'dark'];
const themeBtn = document.getElementById('theme');
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  themeBtn.textContent = `Theme: ${t}`;
  themeBtn.setAttribute('aria-label', `Colour theme: ${t}. Click to change.`);
  window.dispatchEvent(new CustomEvent('kiln:theme', { detail: t }));
}
let theme = load('theme', 'auto');
if (!THEMES.includes(theme)) theme = 'auto';
applyTheme(theme);
themeBtn.addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  save('theme', theme);
  applyTheme(theme);
});
if (window.matchMedia) {
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    window.dispatchEvent(new CustomEvent('kiln:theme', { detail: theme }));
  });
}

// ------------------------------------------------------------------ keyboard

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
  if (typing) return;
  if (e.key === '/') {
    const box = document.querySelector('[data-hotkey="/"]');
    if (box) { e.preventDefault(); box.focus(); box.select && box.select(); }
  }
});

render();
