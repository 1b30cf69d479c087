import { ClaimRequest, IdempotencyStore, STATUS_COMPLETED } from './idempotency';

/**
 * A recipe's work, done once per claim in the dedupe table whatever the redeliveries and retries: claimed, the
 * work runs and the claim is marked completed; completed before, nothing runs; held by another invocation now, an
 * error, so Lambda's retry comes back after that one is done.
 */

/** A claim outlives the function by this much; short, so Lambda's first retry (about a minute on) finds it free. */
export const CLAIM_MARGIN_MS = 10_000;

/** What names a recipe's claim, and how long it holds. */
export interface RecipeClaim {
  /** The item key, with the recipe's namespace (lib/claim-keys.ts). */
  readonly id: string;
  readonly deliveryId: string;
  readonly payloadHash: string;
  readonly token: string;
  readonly nowMs: number;
  /** Until the function ends; the claim holds `CLAIM_MARGIN_MS` longer, so it cannot lapse while we still work. */
  readonly remainingMs: number;
  /** How long a completed claim is remembered. */
  readonly retentionSeconds: number;
}

export interface RunOnceOptions<T> {
  /** The error's message when another invocation holds the claim. */
  readonly busyMessage: string;
  /** The work, run only when this invocation took the claim. */
  readonly work: () => Promise<T>;
  /**
   * Whether a failure of `work` keeps the claim until it lapses (so the retry comes late); default never: the
   * claim is released at once and the retry may do the work.
   */
  readonly keepClaimOn?: (err: unknown) => boolean;
  /** Marks the claim completed once `work` is done; default `store.complete`, whose failure is thrown. */
  readonly complete?: (req: ClaimRequest) => Promise<void>;
}

export type RunOnceResult<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/** `work` under the claim: `{ ran: false }` when it was completed before; throws `busyMessage` while it is held. */
export async function runOnce<T>(
  store: IdempotencyStore,
  claim: RecipeClaim,
  options: RunOnceOptions<T>,
): Promise<RunOnceResult<T>> {
  const req = claimRequest(claim);
  const taken = await store.claim(req);
  if (!taken.claimed) {
    if (taken.existing?.status === STATUS_COMPLETED) return { ran: false };
    throw new Error(options.busyMessage);
  }
  let value: T;
  try {
    value = await options.work();
  } catch (err) {
    if (!options.keepClaimOn?.(err)) await store.release(req).catch(() => undefined);
    throw err;
  }
  await (options.complete ? options.complete(req) : store.complete(req));
  return { ran: true, value };
}

function claimRequest(claim: RecipeClaim): ClaimRequest {
  return {
    id: claim.id,
    deliveryId: claim.deliveryId,
    payloadHash: claim.payloadHash,
    token: claim.token,
    nowMs: claim.nowMs,
    inProgressMs: claim.remainingMs + CLAIM_MARGIN_MS,
    retentionSeconds: claim.retentionSeconds,
  };
}
