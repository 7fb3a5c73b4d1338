// The artifact browser: a lazily expanded tree of a run's artifacts (and of the
// logged models it produced) with previews of images (PNG, JPEG, GIF, SVG), text,
// JSON (pretty-printed), CSV (as a table) and MLflow model metadata (MLmodel), and
// a download link for every file. A file too large to preview, a binary file or a
// failed request each get a message saying so.

import * as api from '../api.js';
import { h, mount, errorBox, loading } from '../dom.js';
import { fmtBytes } from '../format.js';

const IMAGE = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg']);
const TEXT = new Set(['txt', 'log', 'md', 'yaml', 'yml', 'py', 'toml', 'ini', 'cfg', 'sh', 'xml', 'html', 'htm', 'js', 'ts', 'r', 'sql', 'rst', 'out', 'err', 'properties', 'gitignore', 'dockerfile', 'requirements']);
const CSV = new Set(['csv', 'tsv']);
export const LIMITS = { image: 20 * 1024 * 1024, json: 5 * 1024 * 1024, csv: 5 * 1024 * 1024, text: 2 * 1024 * 1024 };
const TEXT_HEAD = 1024 * 1024;
const SNIFF = 8192;
const CSV_ROWS = 1000;

function ext(path) {
  const name = path.split('/').pop() || '';
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(i + 1).toLowerCase() : '';
}

/** What preview a file gets, from its name. */
export function kindOf(path) {
  const name = (path.split('/').pop() || '');
  if (name === 'MLmodel') return 'mlmodel';
  const e = ext(path);
  if (IMAGE.has(e)) return 'image';
  if (e === 'json') return 'json';
  if (CSV.has(e)) return 'csv';
  if (TEXT.has(e) || e === '' || name.endsWith('requirements.txt')) return 'text';
  return 'other';
}

/** Parses CSV text (RFC 4180 quoting) into rows of cells; stops after `maxRows`. */
export function parseCsv(text, sep = ',', maxRows = CSV_ROWS + 1) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
      } else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === sep) { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); cell = '';
      rows.push(row); row = [];
      if (rows.length >= maxRows) return { rows, more: i < text.length - 1 };
    } else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return { rows, more: false };
}

/** Whether bytes look binary: a NUL byte, or not valid UTF-8 (a cut final character is allowed). */
export function looksBinary(bytes, truncated = false) {
  if (bytes.includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(truncated ? bytes.subarray(0, Math.max(0, bytes.length - 4)) : bytes);
    return false;
  } catch {
    return true;
  }
}

/** A few facts from an MLmodel file (YAML): flavors, model id, signature presence. */
export function mlmodelFacts(text) {
  const facts = [];
  const lines = text.split(/\r?\n/);
  let section = '';
  const flavors = [];
  for (const line of lines) {
    const top = line.match(/^([A-Za-z_][\w-]*):\s*(.*)$/);
    if (top) {
      section = top[1];
      const v = top[2].trim();
      if (v && ['artifact_path', 'model_uuid', 'model_id', 'mlflow_version', 'utc_time_created', 'run_id', 'model_size_bytes'].includes(section)) facts.push([section, v.replace(/^'|'$/g, '')]);
      continue;
    }
    const sub = line.match(/^ {2}([A-Za-z_][\w.-]*):/);
    if (sub && section === 'flavors') flavors.push(sub[1]);
    if (sub && section === 'signature') facts.push([`signature.${sub[1]}`, 'present']);
  }
  if (flavors.length) facts.unshift(['flavors', flavors.join(', ')]);
  return facts;
}

/**
 * The browser for a run: `roots` = `[{ label, owner: {runId}|{modelId}, info? }]`.
 */
export function createArtifactBrowser({ roots, initialPath = '', onSelect }) {
  const tree = h('nav.tree', { 'aria-label': 'Artifacts' });
  const preview = h('section.preview', { 'aria-live': 'polite', 'data-testid': 'artifact-preview' },
    h('p.muted', 'Select a file to preview it.'));
  const el = h('div.artifacts', tree, preview);
  let current = null;
  let seq = 0;
  const urls = [];

  async function listDir(owner, path) {
    const q = { path };
    if (owner.modelId) q.model_id = owner.modelId; else q.run_id = owner.runId;
    const r = await api.get('/kiln/artifacts/list', q);
    const files = r.files || [];
    files.sort((a, b) => (b.is_dir - a.is_dir) || a.path.localeCompare(b.path));
    return files;
  }

  function node(owner, f) {
    const name = f.path.split('/').pop();
    const li = h('li');
    const btn = h('button.node', {
      type: 'button', 'data-path': f.path, title: f.path,
      'aria-expanded': f.is_dir ? 'false' : null,
    }, f.is_dir ? '▸' : '·', h('span', name), f.is_dir ? null : h('span.size', fmtBytes(f.file_size)));
    li.appendChild(btn);
    let kids = null;
    btn.addEventListener('click', async () => {
      if (!f.is_dir) { select(owner, f, btn); return; }
      if (kids) {
        const open = kids.hidden;
        kids.hidden = !open;
        btn.setAttribute('aria-expanded', open ? 'true' : 'false');
        btn.firstChild.textContent = open ? '▾' : '▸';
        return;
      }
      kids = h('ul', loading(''));
      li.appendChild(kids);
      btn.setAttribute('aria-expanded', 'true');
      btn.firstChild.textContent = '▾';
      try {
        const files = await listDir(owner, f.path);
        mount(kids, files.length ? files.map((x) => node(owner, x)) : h('li.muted', { style: { padding: '2px 8px' } }, '(empty folder)'));
      } catch (e) {
        mount(kids, h('li', errorBox(e, 'Could not list this folder')));
      }
    });
    return li;
  }

  async function buildRoot(root) {
    const box = h('div', h('div.root-label', root.label));
    tree.appendChild(box);
    const ul = h('ul', loading(''));
    box.appendChild(ul);
    try {
      const files = await listDir(root.owner, '');
      mount(ul, files.length ? files.map((f) => node(root.owner, f)) : h('li.muted', { style: { padding: '4px 10px' } }, 'No artifacts'));
    } catch (e) {
      mount(ul, h('li', errorBox(e, 'Could not list artifacts')));
    }
  }

  function releaseUrls() {
    while (urls.length) URL.revokeObjectURL(urls.pop());
  }

  async function select(owner, f, btn) {
    if (current) current.removeAttribute('aria-current');
    current = btn;
    btn.setAttribute('aria-current', 'true');
    releaseUrls();
    const my = ++seq;
    const download = h('a.btn.small', { href: api.artifactUrl(owner, f.path, { download: 'true' }), download: f.path.split('/').pop() }, 'Download');
    const body = h('div', loading('Loading preview…'));
    mount(preview,
      h('div.preview-head', h('span.path', f.path), h('span.muted', fmtBytes(f.file_size)), download),
      body);
    if (onSelect) onSelect(f.path);
    try {
      const view = await render(owner, f);
      if (my === seq) mount(body, view);
    } catch (e) {
      if (my === seq) mount(body, errorBox(e, 'Could not preview this file'));
    }
  }

  function tooLarge(f, limit, kind, extra = null) {
    return h('div.note-box', { 'data-testid': 'too-large' },
      h('strong', 'Too large to preview: '),
      `${f.path.split('/').pop()} is ${fmtBytes(f.file_size)}; ${kind} previews stop at ${fmtBytes(limit)}. Use Download to get the file.`,
      extra ? h('div', { style: { marginTop: '8px' } }, extra) : null);
  }

  function binary(f) {
    return h('div.note-box', { 'data-testid': 'binary' }, h('strong', 'Binary file: '),
      `${f.path.split('/').pop()} (${fmtBytes(f.file_size)}) is not text or an image Kiln can show. Use Download to get it.`);
  }

  async function fetchBytes(owner, f, limit) {
    const resp = await api.request('GET', '/kiln/artifacts/get', {
      raw: true, query: { ...(owner.modelId ? { model_id: owner.modelId } : { run_id: owner.runId }), path: f.path, limit },
    });
    const buf = new Uint8Array(await resp.arrayBuffer());
    return { bytes: buf, truncated: resp.headers.get('x-kiln-truncated') === 'true' };
  }

  async function textView(owner, f, limit) {
    const { bytes, truncated } = await fetchBytes(owner, f, limit);
    if (looksBinary(bytes, truncated)) return binary(f);
    const text = new TextDecoder('utf-8').decode(bytes);
    return h('div',
      truncated ? h('div.note-box', `Showing the first ${fmtBytes(bytes.length)} of ${fmtBytes(f.file_size)}.`) : null,
      h('pre.block', text));
  }

  async function render(owner, f) {
    const kind = kindOf(f.path);
    const size = Number(f.file_size || 0);
    if (kind === 'image') {
      if (size > LIMITS.image) return tooLarge(f, LIMITS.image, 'image');
      const { bytes } = await fetchBytes(owner, f);
      const type = ext(f.path) === 'svg' ? 'image/svg+xml' : ext(f.path) === 'jpg' ? 'image/jpeg' : `image/${ext(f.path)}`;
      const url = URL.createObjectURL(new Blob([bytes], { type }));
      urls.push(url);
      const img = h('img', { src: url, alt: `Preview of ${f.path}` });
      return new Promise((resolve) => {
        img.onload = () => resolve(h('div', img, h('div.muted', `${img.naturalWidth} × ${img.naturalHeight} px`)));
        img.onerror = () => resolve(h('div.note-box', h('strong', 'Not a readable image: '), `${f.path} could not be decoded as ${type}.`));
      });
    }
    if (kind === 'json') {
      if (size > LIMITS.json) return tooLarge(f, LIMITS.json, 'JSON', showHead(owner, f));
      const { bytes } = await fetchBytes(owner, f);
      if (looksBinary(bytes)) return binary(f);
      const text = new TextDecoder().decode(bytes);
      try {
        return h('pre.block', { 'data-testid': 'json' }, JSON.stringify(JSON.parse(text), null, 2));
      } catch (e) {
        return h('div', h('div.note-box', `Not valid JSON (${e.message}); shown as text.`), h('pre.block', text));
      }
    }
    if (kind === 'csv') {
      if (size > LIMITS.csv) return tooLarge(f, LIMITS.csv, 'CSV', showHead(owner, f));
      const { bytes } = await fetchBytes(owner, f);
      if (looksBinary(bytes)) return binary(f);
      const text = new TextDecoder().decode(bytes);
      const { rows, more } = parseCsv(text, ext(f.path) === 'tsv' ? '\t' : ',');
      if (!rows.length) return h('p.muted', 'Empty file.');
      const [header, ...data] = rows;
      return h('div',
        h('div.muted', `${data.length}${more ? '+' : ''} rows × ${header.length} columns${more ? ` (first ${CSV_ROWS} rows shown)` : ''}`),
        h('div.table-scroll', { style: { maxHeight: '70vh' } }, h('table.data', { 'data-testid': 'csv-table' },
          h('thead', h('tr', header.map((c) => h('th', c)))),
          h('tbody', data.slice(0, CSV_ROWS).map((r) => h('tr', r.map((c) => h('td', c))))))));
    }
    if (kind === 'mlmodel') {
      const { bytes } = await fetchBytes(owner, f, LIMITS.text);
      const text = new TextDecoder().decode(bytes);
      const facts = mlmodelFacts(text);
      return h('div', { 'data-testid': 'mlmodel' },
        h('h3', 'Model metadata'),
        facts.length ? h('dl.kv', facts.map(([k, v]) => [h('dt', k), h('dd', v)])) : null,
        h('h3', 'MLmodel'),
        h('pre.block', text));
    }
    if (kind === 'text') {
      if (size > LIMITS.text) return tooLarge(f, LIMITS.text, 'text', showHead(owner, f));
      return textView(owner, f);
    }
    // Unknown extension: sniff the first bytes.
    const { bytes, truncated } = await fetchBytes(owner, f, SNIFF);
    if (looksBinary(bytes, truncated)) return binary(f);
    if (size > LIMITS.text) return tooLarge(f, LIMITS.text, 'text', showHead(owner, f));
    return textView(owner, f);
  }

  function showHead(owner, f) {
    const btn = h('button.btn.small', { type: 'button' }, `Show the first ${fmtBytes(TEXT_HEAD)} as text`);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        btn.replaceWith(await textView(owner, f, TEXT_HEAD));
      } catch (e) {
        btn.replaceWith(errorBox(e, 'Could not load the file'));
      }
    });
    return btn;
  }

  (async () => {
    for (const r of roots) {
      await buildRoot(r);
    }
    if (initialPath) {
      const b = tree.querySelector(`button.node[data-path="${CSS.escape(initialPath)}"]`);
      if (b) b.click();
    }
  })();

  tree.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const nodes = [...tree.querySelectorAll('button.node')].filter((b) => b.offsetParent !== null);
    const i = nodes.indexOf(document.activeElement);
    const next = nodes[e.key === 'ArrowDown' ? i + 1 : i - 1];
    if (next) { e.preventDefault(); next.focus(); }
  });

  return { el, destroy: releaseUrls };
}
