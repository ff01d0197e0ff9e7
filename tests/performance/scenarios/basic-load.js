// Normal sustained load on the full chain: 30s→50, 1m→100, 5m→100, 30s→0 VUs.
// Same stages, request, checks and thresholds as `ibench load basic-load`.
import { sleep } from 'k6';
import { sayHello, stages } from '../lib/config.js';

export const options = {
  stages: stages([[30, 50], [60, 100], [300, 100], [30, 0]]),
  thresholds: {
    http_req_duration: ['p(95)<100', 'p(99)<150'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  sayHello('full');
  sleep(0.05 + Math.random() * 0.1);
}
