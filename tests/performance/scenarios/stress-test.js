// Find the breaking point: 1m→100, 2m→500, 2m→1000, 2m→2000, 1m→0 VUs on the full chain.
// Same stages, request, checks and thresholds as `ibench load stress-test`.
import { sleep } from 'k6';
import { sayHello, stages } from '../lib/config.js';

export const options = {
  stages: stages([[60, 100], [120, 500], [120, 1000], [120, 2000], [60, 0]]),
  thresholds: {
    http_req_failed: ['rate<0.05'],
    checks: ['rate>0.95'],
  },
};

export default function () {
  sayHello('full');
  sleep(0.01);
}
