import { runReliability } from './reliability/suite';

/**
 * The reliability suite at CI size (`npm run test:reliability` runs 10,000 events and 100,000 fuzzed requests):
 * faults in windows, a kill between publish and confirm, redeliveries and the poller's copies.
 */
test('2,000 signed events at concurrency 50 under faults: nothing lost, twice only inside the named windows', async () => {
  const r = await runReliability({ events: 2_000, concurrency: 50, fuzz: 20_000 });
  expect(r.sent).toBe(2_000);
  expect(r.lost).toEqual([]);
  expect(r.published).toBe(r.distinctOutcomes);
  expect(r.twiceOutsideWindows).toEqual([]);
  expect(r.serverErrorsOutsideFaults).toBe(0);
  expect(r.kills).toBe(1);
  expect(r.pollerCopies.published + r.pollerCopies.duplicate).toBeGreaterThan(0);
  expect(r.fuzz.crashes).toBe(0);
  expect(Object.keys(r.fuzz.statuses).sort()).toEqual(['400', '401', '413']);
}, 180_000);
