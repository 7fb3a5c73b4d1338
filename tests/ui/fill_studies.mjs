// Fills the server with two tuning studies through the studies API (ask / report /
// tell / enqueue over HTTP, as any client in any language would): a one-objective
// study with trials in every state (COMPLETE, PRUNED, FAIL, RUNNING, WAITING),
// intermediate values and a conditional parameter, and a two-objective study
// (minimise error, maximise speed). Returns what was created, for the tests.

/** The one-objective study's objective (lower is better). */
export function quadratic(p) {
  return (p.x - 1) ** 2 + 0.1 * p.depth + (p.booster === 'dart' ? 0.5 : 0);
}

/** The two-objective study's objectives: [error (min), speed (max)]. */
export function tradeoff(p) {
  return [0.2 + 1 / p.layers + (Math.log10(p.lr) + 1.5) ** 2 * 0.1, 100 / p.layers - 3 * Math.abs(Math.log10(p.lr) + 2)];
}

async function call(url, path, body) {
  const resp = await fetch(`${url}/api/2.0/kiln/studies${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`POST /api/2.0/kiln/studies${path} ${JSON.stringify(body)}: ${resp.status} ${text}`);
  return JSON.parse(text);
}

/** Asks a trial; `run(trial)` reports and returns the tell (or null to leave it RUNNING). */
async function trial(url, study, run) {
  const t = (await call(url, '/ask', { study })).trial;
  const reports = [];
  const report = async (step, value) => {
    await call(url, '/report', { study, number: t.number, step, value });
    reports.push([step, value]);
  };
  const tell = await run(t.params, report);
  let state = 'RUNNING';
  let values = null;
  if (tell) {
    const told = (await call(url, '/tell', { study, number: t.number, ...tell })).trial;
    state = told.state;
    values = told.values;
  }
  return { number: t.number, state, values, params: t.params, run_id: t.run_id, intermediate: reports, reason: tell && tell.reason };
}

export async function fillStudies(url) {
  // One objective, every trial state.
  const single = 'tune-quadratic';
  await call(url, '/create', {
    name: single, direction: 'minimize', metrics: ['loss'], sampler: 'random', seed: 11,
    space: {
      x: { float: [-4, 4] },
      depth: { int: [1, 8] },
      booster: { choices: ['gbdt', 'dart'] },
      drop_rate: { float: [0.05, 0.5], when: { booster: 'dart' } },
    },
  });
  const plan = ['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE', 'PRUNED', 'COMPLETE', 'COMPLETE', 'FAIL', 'PRUNED', 'COMPLETE', 'COMPLETE'];
  const trials = [];
  for (const kind of plan) {
    trials.push(await trial(url, single, async (p, report) => {
      const v = quadratic(p);
      if (kind === 'COMPLETE') {
        for (let s = 0; s < 5; s++) await report(s, v + (4 - s) * 0.25);
        return { value: v };
      }
      if (kind === 'PRUNED') {
        await report(0, v + 5);
        await report(1, v + 4);
        return { state: 'PRUNED' };
      }
      return { state: 'FAIL', reason: 'out of memory in the objective' };
    }));
  }
  trials.push(await trial(url, single, async (p, report) => { await report(0, quadratic(p) + 2); return null; }));
  const waitingParams = { x: 0.5, depth: 3, booster: 'gbdt' };
  const waiting = (await call(url, '/enqueue', { study: single, params: waitingParams })).number;
  trials.push({ number: waiting, state: 'WAITING', values: null, params: waitingParams, run_id: '', intermediate: [] });

  // Two objectives.
  const multi = 'tune-tradeoff';
  await call(url, '/create', {
    name: multi, directions: ['minimize', 'maximize'], metrics: ['error', 'speed'], sampler: 'random', seed: 5,
    space: { lr: { float: [0.0001, 1], log: true }, layers: { int: [1, 6] } },
  });
  const mtrials = [];
  for (let i = 0; i < 12; i++) {
    mtrials.push(await trial(url, multi, async (p) => (i === 6 ? { state: 'FAIL', reason: 'diverged' } : { values: tradeoff(p) })));
  }
  return {
    single: { name: single, metric: 'loss', trials },
    multi: { name: multi, metrics: ['error', 'speed'], directions: ['minimize', 'maximize'], trials: mtrials },
  };
}
