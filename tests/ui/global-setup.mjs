// Starts one kiln server for the whole run and fills it through the real mlflow
// client (fill_store.py) and, for the study pages, through the studies API
// (fill_studies.mjs). The server URL and what was created reach the tests
// through KILN_UI_STATE (a JSON file). Returns the teardown.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, pythonBinary, HERE } from './server.mjs';
import { CHROMIUM } from './playwright.config.mjs';
import { fillStudies } from './fill_studies.mjs';

export default async function globalSetup() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium chromium-driver, or set KILN_CHROMIUM)`);
  const python = pythonBinary();
  const server = await startServer('ui');
  const statePath = path.join(server.dir, 'state.json');
  try {
    execFileSync(python, [path.join(HERE, 'fill_store.py'), statePath], {
      env: { ...process.env, MLFLOW_TRACKING_URI: server.url },
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 600_000,
    });
  } catch (e) {
    await server.stop();
    throw new Error(`filling the store through the mlflow client failed: ${e.message}; server log in ${server.dir}/server.log`);
  }
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  try {
    state.studies = await fillStudies(server.url);
  } catch (e) {
    await server.stop();
    throw new Error(`filling the studies through the studies API failed: ${e.message}; server log in ${server.dir}/server.log`);
  }
  state.url = server.url;
  state.dir = server.dir;
  fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
  process.env.KILN_UI_STATE = statePath;
  fs.mkdirSync(path.join(HERE, 'screenshots'), { recursive: true });
  return async () => { await server.stop(); };
}
