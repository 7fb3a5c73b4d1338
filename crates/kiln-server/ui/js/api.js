// Talks to the Kiln server: MLflow's REST API under /ajax-api/2.0/mlflow and Kiln's
// UI endpoints under /ajax-api/2.0/kiln. Every failure becomes an ApiError with a
// message fit to show: the server's own error (code + message) or, when the server
// cannot be reached, a sentence saying so. Nothing is swallowed here.

const BASE = '/ajax-api/2.0';

/** An error to show the user. `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = '', url = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.url = url;
  }
  get offline() { return this.status === 0; }
}

let online = true;
function setOnline(v, detail) {
  if (v === online) return;
  online = v;
  window.dispatchEvent(new CustomEvent(v ? 'kiln:online' : 'kiln:offline', { detail }));
}

/** `?a=1&b=x&b=y` from an object (arrays repeat the key; null/undefined/'' are left out). */
export function queryString(query) {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

async function describeFailure(resp, url) {
  let code = '';
  let message = '';
  const text = await resp.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    code = body.error_code || '';
    message = body.message || '';
  } catch {
    message = text.slice(0, 500);
  }
  if (!message) message = `${resp.status} ${resp.statusText}`.trim();
  const shown = code ? `${message} (${code}, HTTP ${resp.status})` : `${message} (HTTP ${resp.status})`;
  return new ApiError(shown, { status: resp.status, code, url });
}

/**
 * One request. `path` is relative to /ajax-api/2.0 (e.g. `/mlflow/runs/get`).
 * Returns parsed JSON, or the Response itself with `raw: true`.
 */
export async function request(method, path, { query, body, raw = false, signal } = {}) {
  const url = BASE + path + queryString(query);
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    const err = new ApiError(
      `Cannot reach the Kiln server at ${location.host}: the request for ${path} failed (${e && e.message ? e.message : e}). ` +
        'Is `kiln server` still running?',
      { status: 0, code: 'NETWORK', url },
    );
    setOnline(false, err.message);
    throw err;
  }
  setOnline(true);
  if (!resp.ok) throw await describeFailure(resp, url);
  if (raw) return resp;
  const text = await resp.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(`The server sent a response that is not JSON for ${path}: ${e.message}`, { status: resp.status, url });
  }
}

export const get = (path, query, opts = {}) => request('GET', path, { ...opts, query });
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const patch = (path, body, opts = {}) => request('PATCH', path, { ...opts, body });
export const del = (path, body, opts = {}) => request('DELETE', path, { ...opts, body });

/** URL of an artifact file (run or logged model), for <a href> and fetches. */
export function artifactUrl(owner, path, extra = {}) {
  const q = { path, ...extra };
  if (owner.modelId) q.model_id = owner.modelId;
  else q.run_id = owner.runId;
  return `${BASE}/kiln/artifacts/get${queryString(q)}`;
}

/** Metric values arrive as numbers or "NaN" / "Infinity" / "-Infinity" strings. */
export function toNumber(v) {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === null || v === undefined || v === '') return NaN;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

/** Fetches every page of an MLflow search (`field` is the list's name in the response). */
export async function searchAll(path, body, field, { limit = 10000, method = 'POST' } = {}) {
  const out = [];
  let token;
  do {
    const req = { ...body, page_token: token };
    const page = method === 'GET' ? await get(path, req) : await post(path, req);
    out.push(...(page[field] || []));
    token = page.next_page_token;
  } while (token && out.length < limit);
  return out;
}
