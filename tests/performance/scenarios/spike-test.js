// Recovery from a sudden spike: 30s→100, 10s→1000, 30s→1000, 10s→100, 30s→100 VUs.
// Same stages, request and checks as `ibench load spike-test`.
//
// k6 thresholds cannot compute a recovery time, so the script tags each request with its
// phase on the scenario's own (unscaled) timeline: `after` from the end of the spike
// (80 s) on, and `recovered` from 30 s after it (110 s) on. "p95 after the spike < 150 ms"
// is checked on `after`; "recovery < 30 s" as p95 < 150 ms on `recovered`: latency is back
// under the threshold once 30 s have passed. `ibench load` measures the recovery time itself.
import { sleep } from 'k6';
import { sayHello, scenarioSeconds, stages } from '../lib/config.js';

const SPIKE_END = 80; // 30 + 10 + 30 + 10 seconds
const RECOVERY_LIMIT = 30;

export const options = {
  stages: stages([[30, 100], [10, 1000], [30, 1000], [10, 100], [30, 100]]),
  thresholds: {
    http_req_failed: ['rate<0.02'],
    checks: ['rate>0.98'],
    'http_req_duration{phase:after}': ['p(95)<150'],
    'http_req_duration{phase:recovered}': ['p(95)<150'],
  },
};

export function setup() {
  return { startedAt: Date.now() };
}

export default function (data) {
  const t = scenarioSeconds(data.startedAt);
  const phase = t < SPIKE_END ? 'before' : t < SPIKE_END + RECOVERY_LIMIT ? 'after' : 'recovered';
  sayHello('full', { phase: phase === 'recovered' ? 'recovered' : phase });
  sleep(0.05);
}
