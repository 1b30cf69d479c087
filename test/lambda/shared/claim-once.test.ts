import { CLAIM_MARGIN_MS, RecipeClaim, runOnce } from '../../../lambda/shared/claim-once';
import {
  ClaimRequest,
  ClaimResult,
  IdempotencyStore,
  STATUS_COMPLETED,
  STATUS_IN_PROGRESS,
} from '../../../lambda/shared/idempotency';

/** The claim around a recipe's work (lambda/shared/claim-once.ts), against a store that records what it is asked. */

function memoryStore() {
  const items = new Map<string, string>();
  const calls: string[] = [];
  const store: IdempotencyStore = {
    claim: async (req: ClaimRequest): Promise<ClaimResult> => {
      calls.push(`claim ${req.id} for ${req.inProgressMs} ms`);
      const status = items.get(req.id);
      if (status !== undefined) return { claimed: false, existing: { status } };
      items.set(req.id, STATUS_IN_PROGRESS);
      return { claimed: true };
    },
    complete: async (req) => {
      calls.push(`complete ${req.id}`);
      items.set(req.id, STATUS_COMPLETED);
    },
    release: async (req) => {
      calls.push(`release ${req.id}`);
      items.delete(req.id);
    },
  };
  return { store, items, calls };
}

const CLAIM: RecipeClaim = {
  id: 'recipe#scope:outcome-1',
  deliveryId: 'outcome-1',
  payloadHash: 'h',
  token: 't',
  nowMs: 0,
  remainingMs: 20_000,
  retentionSeconds: 86400,
};
const BUSY = 'outcome-1 is being handled by another invocation; retry later';

test('claimed: the work runs once and the claim is completed; again, it is done before', async () => {
  const { store, calls } = memoryStore();
  let runs = 0;
  const work = async () => ++runs;
  expect(await runOnce(store, CLAIM, { busyMessage: BUSY, work })).toEqual({ ran: true, value: 1 });
  expect(await runOnce(store, CLAIM, { busyMessage: BUSY, work })).toEqual({ ran: false });
  expect(runs).toBe(1);
  expect(calls).toEqual([
    `claim recipe#scope:outcome-1 for ${20_000 + CLAIM_MARGIN_MS} ms`,
    'complete recipe#scope:outcome-1',
    `claim recipe#scope:outcome-1 for ${20_000 + CLAIM_MARGIN_MS} ms`,
  ]);
});

test('held by another invocation: the busy error, and the work does not run', async () => {
  const { store, items } = memoryStore();
  items.set(CLAIM.id, STATUS_IN_PROGRESS);
  const work = jest.fn(async () => 1);
  await expect(runOnce(store, CLAIM, { busyMessage: BUSY, work })).rejects.toThrow(BUSY);
  expect(work).not.toHaveBeenCalled();
});

test('failed work releases the claim, unless keepClaimOn keeps it; the error is thrown either way', async () => {
  const { store, items, calls } = memoryStore();
  const fail = async () => {
    throw new Error('lost answer');
  };
  await expect(runOnce(store, CLAIM, { busyMessage: BUSY, work: fail })).rejects.toThrow('lost answer');
  expect(items.has(CLAIM.id)).toBe(false);
  await expect(
    runOnce(store, CLAIM, { busyMessage: BUSY, work: fail, keepClaimOn: (e) => String(e).includes('lost') }),
  ).rejects.toThrow('lost answer');
  expect(items.get(CLAIM.id)).toBe(STATUS_IN_PROGRESS);
  expect(calls.filter((c) => c.startsWith('release'))).toEqual(['release recipe#scope:outcome-1']);
});

test('complete: the caller marks the claim done its own way', async () => {
  const { store, calls } = memoryStore();
  const marked: ClaimRequest[] = [];
  const outcome = await runOnce(store, CLAIM, {
    busyMessage: BUSY,
    work: async () => 'done',
    complete: async (req) => void marked.push(req),
  });
  expect(outcome).toEqual({ ran: true, value: 'done' });
  expect(marked).toEqual([
    {
      id: CLAIM.id,
      deliveryId: 'outcome-1',
      payloadHash: 'h',
      token: 't',
      nowMs: 0,
      inProgressMs: 20_000 + CLAIM_MARGIN_MS,
      retentionSeconds: 86400,
    },
  ]);
  expect(calls.some((c) => c.startsWith('complete'))).toBe(false);
});
