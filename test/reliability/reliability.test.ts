import { FAULTS, runReliability } from './suite';

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
  // No 5xx without a cause: outside the faults only the suite's own DynamoDB engine failing under load may give
  // one (store_error, which the sender retries), never the verifier's own failing (internal_error, ...).
  expect(r.serverErrorsOutsideFaults).toEqual([]);
  // Every fault the suite injected fired in the receiver process; the kill exactly once.
  for (const f of FAULTS) expect([f, r.faults[f].fired > 0]).toEqual([f, true]);
  expect(r.faults['kill-after-publish'].fired).toBe(1);
  expect(r.kills).toBe(1);
  expect(r.crashes).toBe(0);
  // The faults that refuse a request were seen as 5xx by the sender, tagged with the fault by the receiver.
  for (const f of ['dynamodb', 'putevents-5xx', 'putevents-failed-entry'] as const)
    expect([f, r.faults[f].serverErrors > 0]).toEqual([f, true]);
  expect(r.pollerCopies.published + r.pollerCopies.duplicate).toBeGreaterThan(0);
  expect(r.fuzz.crashes).toBe(0);
  expect(Object.keys(r.fuzz.statuses).sort()).toEqual(['400', '401', '413']);
}, 300_000);
