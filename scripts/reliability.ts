/** npm run test:reliability: the reliability suite at full size (10,000 events, 100,000 fuzzed requests). */
import { FAULTS, runReliability } from '../test/reliability/suite';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const events = Number(process.env.EVENTS ?? 10_000);
const fuzz = Number(process.env.FUZZ ?? 100_000);

void runReliability({ events, concurrency: 50, fuzz, log: (l) => console.error(l) }).then(
  (r) => {
    console.log(JSON.stringify({ ...r, lost: r.lost.length, twice: r.twice.length }, null, 2));
    const ok =
      r.lost.length === 0 &&
      r.twiceOutsideWindows.length === 0 &&
      r.serverErrorsOutsideFaults.length === 0 &&
      FAULTS.every((f) => r.faults[f].fired > 0) &&
      r.kills === 1 &&
      r.crashes === 0 &&
      r.fuzz.crashes === 0 &&
      Object.keys(r.fuzz.statuses).every((s) => ['400', '401', '413'].includes(s));
    console.log(ok ? 'reliability: PASS' : 'reliability: FAIL');
    process.exit(ok ? 0 : 1);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
