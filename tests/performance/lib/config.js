// Shared configuration of the k6 scenarios: where `ibench serve` listens, how to scale the
// stages, and the one request every scenario sends. Mirrors `ibench load`'s built-ins.
//
// Environment (all optional):
//   IBENCH_HOST         host of the listeners (default 127.0.0.1)
//   IBENCH_PORT_OFFSET  added to every default port, as `ibench serve --port-offset` (default 0)
//   IBENCH_TARGET_<NAME> full URL for one listener, e.g. IBENCH_TARGET_FULL=http://127.0.0.1:9000
//   DURATION_SCALE      multiplies every stage's duration (default 1; 0.05 for a quick run)
//   VUS_SCALE           multiplies every stage's target VUs (default 1; at least 1 VU remains)
import http from 'k6/http';
import { check } from 'k6';

// The seed's ports: 8080 full chain, 8081 baseline, 8082 validation, 8083 logger, 8084 tracing —
// a copy of interceptor_bench::stack::SEED_LAYOUT, kept equal to it by a test in src/stack.rs.
export const LISTENERS = { full: 8080, baseline: 8081, validation: 8082, logger: 8083, tracing: 8084 };

const host = __ENV.IBENCH_HOST || '127.0.0.1';
const offset = parseInt(__ENV.IBENCH_PORT_OFFSET || '0', 10);
const durationScale = parseFloat(__ENV.DURATION_SCALE || '1');
const vusScale = parseFloat(__ENV.VUS_SCALE || '1');

export function baseUrl(listener) {
  const override = __ENV[`IBENCH_TARGET_${listener.toUpperCase()}`];
  return override || `http://${host}:${LISTENERS[listener] + offset}`;
}

/** Seconds scaled by DURATION_SCALE, as a k6 duration string in milliseconds. */
export function duration(seconds) {
  return `${Math.max(1, Math.round(seconds * 1000 * durationScale))}ms`;
}

/** Stages given as [seconds, target VUs] pairs, scaled. A target of 0 stays 0. */
export function stages(pairs) {
  return pairs.map(([seconds, target]) => ({
    duration: duration(seconds),
    target: target === 0 ? 0 : Math.max(1, Math.round(target * vusScale)),
  }));
}

/** Milliseconds since the test started, unscaled back into the scenario's own timeline. */
export function scenarioSeconds(startedAt) {
  return (Date.now() - startedAt) / 1000 / durationScale;
}

const NAME = 'k6';
const BODY = JSON.stringify({ name: NAME });
const PARAMS = { headers: { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' } };

/** One SayHello on `listener`, with the checks every scenario makes (status and message). */
export function sayHello(listener, tags = {}) {
  const params = Object.assign({}, PARAMS, { tags: Object.assign({ listener }, tags) });
  const response = http.post(`${baseUrl(listener)}/greeter.v1.GreeterService/SayHello`, BODY, params);
  check(
    response,
    {
      'status is 200': (r) => r.status === 200,
      'message is the greeting': (r) => r.status === 200 && r.json('message') === `Hello, ${NAME}!`,
    },
    Object.assign({ listener }, tags),
  );
  return response;
}
