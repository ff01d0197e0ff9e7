// Per-interceptor cost: 10 VUs for 2m, each iteration calls SayHello on all five listeners in
// shuffled order. Same thresholds as `ibench load interceptor-overhead`.
//
// k6 thresholds cannot subtract one metric from another, so the per-interceptor overhead
// (each single-interceptor listener's median and p95 minus baseline's; the full chain's
// difference divided by its 9 interceptors, budget 2 ms) is computed in handleSummary, printed,
// and written to the file named by OVERHEAD_JSON when set; `ibench load` also gates on it.
import { LISTENERS, duration, sayHello } from '../lib/config.js';

const NAMES = Object.keys(LISTENERS);
const BUDGET_MS = 2;
const FULL_CHAIN_LENGTH = 9;

const thresholds = {
  'http_req_duration{listener:baseline}': ['p(95)<10'],
  'http_req_duration{listener:full}': ['p(95)<30'],
};
for (const name of NAMES) {
  thresholds[`checks{listener:${name}}`] = ['rate>0.99'];
  // Listed so that handleSummary receives each listener's median and p95.
  if (!thresholds[`http_req_duration{listener:${name}}`]) {
    thresholds[`http_req_duration{listener:${name}}`] = ['max>=0'];
  }
}

export const options = {
  scenarios: {
    overhead: { executor: 'constant-vus', vus: 10, duration: duration(120) },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  thresholds,
};

function shuffled(items) {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

export default function () {
  for (const name of shuffled(NAMES)) {
    sayHello(name);
  }
}

export function overhead(metrics) {
  const stat = (name, s) => metrics[`http_req_duration{listener:${name}}`].values[s];
  const rows = [];
  for (const name of ['validation', 'logger', 'tracing', 'full']) {
    const divisor = name === 'full' ? FULL_CHAIN_LENGTH : 1;
    const med = (stat(name, 'med') - stat('baseline', 'med')) / divisor;
    const p95 = (stat(name, 'p(95)') - stat('baseline', 'p(95)')) / divisor;
    rows.push({ listener: name, per_interceptor_med_ms: med, per_interceptor_p95_ms: p95, within_budget: med < BUDGET_MS && p95 < BUDGET_MS });
  }
  return rows;
}

/** A short text summary: requests, failures, each listener's latency, thresholds, overhead. */
function summaryText(data, rows) {
  const m = data.metrics;
  const out = [];
  out.push(`  http_reqs: ${m.http_reqs.values.count} (${m.http_reqs.values.rate.toFixed(1)}/s)`);
  out.push(`  http_req_failed: ${(m.http_req_failed.values.rate * 100).toFixed(2)}%`);
  for (const name of NAMES) {
    const v = m[`http_req_duration{listener:${name}}`].values;
    out.push(`  ${name.padEnd(10)} med ${v.med.toFixed(3)} ms  p(95) ${v['p(95)'].toFixed(3)} ms  p(99) ${v['p(99)'].toFixed(3)} ms`);
  }
  out.push('  thresholds');
  for (const [metric, value] of Object.entries(m)) {
    for (const [expression, verdict] of Object.entries(value.thresholds || {})) {
      out.push(`    ${verdict.ok ? '✓' : '✗'} ${metric} ${expression}`);
    }
  }
  out.push('  interceptor overhead');
  for (const r of rows) {
    out.push(`    ${r.within_budget ? '✓' : '✗'} ${r.listener.padEnd(10)} per interceptor: med ${r.per_interceptor_med_ms.toFixed(3)} ms, p95 ${r.per_interceptor_p95_ms.toFixed(3)} ms (budget ${BUDGET_MS} ms)`);
  }
  return out.join('\n') + '\n';
}

export function handleSummary(data) {
  const rows = overhead(data.metrics);
  const out = { stdout: summaryText(data, rows) };
  if (__ENV.OVERHEAD_JSON) {
    out[__ENV.OVERHEAD_JSON] = JSON.stringify({ budget_ms: BUDGET_MS, rows, metrics: data.metrics }, null, 2);
  }
  return out;
}
