// Starts and stops `kiln server` processes for the UI tests: a fresh SQLite store and
// artifact folder in a temporary directory, a free port chosen by the server itself
// (--port 0; the bound address is read from its first line of output).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');

export function kilnBinary() {
  const bin = process.env.KILN_BIN || path.join(REPO, 'target', 'debug', 'kiln');
  const abs = path.isAbsolute(bin) ? bin : path.join(REPO, bin);
  if (!fs.existsSync(abs)) {
    throw new Error(`kiln binary not found at ${abs}: build it with \`cargo build -p kiln\` or set KILN_BIN`);
  }
  return abs;
}

export function pythonBinary() {
  const py = process.env.KILN_UI_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
  try {
    execFileSync(py, ['-c', 'import mlflow, pandas'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${py} cannot import mlflow and pandas (run \`bash scripts/setup.sh\`, or set KILN_UI_PYTHON): ${e.message}`);
  }
  return py;
}

/** A running server: `{ url, dir, stop() }`. */
export async function startServer(label = 'ui') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kiln-${label}-`));
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const proc = spawn(kilnBinary(), [
    'server', '--host', '127.0.0.1', '--port', '0',
    '--backend-store-uri', `sqlite:///${path.join(dir, 'store.db')}`,
    '--artifacts-destination', path.join(dir, 'artifacts'),
  ], { cwd: dir, stdio: ['ignore', 'pipe', log], detached: true });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kiln server did not start within 60 s; see ${dir}/server.log`)), 60_000);
    proc.stdout.on('data', (b) => {
      out += b.toString();
      const m = out.match(/http:\/\/[0-9.]+:\d+/);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`kiln server exited with ${code}; see ${dir}/server.log`)); });
  });
  proc.stdout.resume();
  return {
    url,
    dir,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      try { process.kill(-proc.pid, 'SIGTERM'); } catch { return; }
      const t = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
      await done;
      clearTimeout(t);
    },
  };
}
