import { modelAliasesPrefix } from '../../lib/claim-keys';
import { runOnce } from '../shared/claim-once';
import { ClaimRequest, IdempotencyStore } from '../shared/idempotency';
import { errorName, Logger } from '../shared/log';

/**
 * Recipe: model aliases that inference pipelines read from SSM (`/together/models/<alias>`), kept pointing at a
 * model that serves. On `model.deprecated`, each alias on the deprecated model moves to `replacement_model` when
 * there is one and you opted in; otherwise you are alerted. On `endpoint.ready`, an alias that follows a model
 * prefix moves to the new endpoint, unless it already followed a later deployment (a late retry or replay of an
 * older one). Every change is logged and announced (old value, new value), also when the PutParameter of an earlier
 * attempt landed but its answer was lost: each change is recorded (`AliasStateStore.reserve`) before it is written
 * and settled once announced, so the retry that finds the alias moved announces a change still recorded for its
 * event.
 */

export interface AliasSpec {
  readonly alias: string;
  /** The SSM parameter name. */
  readonly parameter: string;
  /** Follow new deployments of models whose name starts with this. */
  readonly follow?: string;
}

export interface AliasChange {
  readonly alias: string;
  readonly parameter: string;
  readonly from: string | undefined;
  readonly to: string;
  readonly reason: string;
}

export interface AliasAlert {
  readonly alias: string;
  readonly parameter: string;
  readonly model: string;
  readonly reason: string;
}

export interface AliasEvent {
  readonly type: 'model.deprecated' | 'endpoint.ready';
  readonly outcomeKey: string;
  readonly data: Record<string, unknown>;
}

export interface AliasPlan {
  readonly changes: AliasChange[];
  readonly alerts: AliasAlert[];
  /** Aliases the event would move that hold its target already: an earlier attempt's write may have landed. */
  readonly inPlace: AliasSpec[];
}

/** What the event means for the aliases, given their current values. Pure. */
export function planAliases(
  event: AliasEvent,
  aliases: readonly AliasSpec[],
  current: Readonly<Record<string, string | undefined>>,
  switchOnDeprecation: boolean,
): AliasPlan {
  const changes: AliasChange[] = [];
  const alerts: AliasAlert[] = [];
  const inPlace: AliasSpec[] = [];
  if (event.type === 'model.deprecated') {
    const model = String(event.data.model_id ?? '');
    const replacement = typeof event.data.replacement_model === 'string' ? event.data.replacement_model : '';
    const sunset = typeof event.data.sunset_date === 'string' ? ` (sunset ${event.data.sunset_date})` : '';
    for (const a of aliases) {
      if (model !== '' && replacement && switchOnDeprecation && current[a.parameter] === replacement)
        inPlace.push(a);
      if (model === '' || current[a.parameter] !== model) continue;
      if (replacement && switchOnDeprecation) {
        changes.push({
          alias: a.alias,
          parameter: a.parameter,
          from: model,
          to: replacement,
          reason: `${model} is deprecated${sunset}; Together names ${replacement} to replace it`,
        });
      } else {
        alerts.push({
          alias: a.alias,
          parameter: a.parameter,
          model,
          reason: replacement
            ? `${model} is deprecated${sunset}; Together names ${replacement} to replace it. Switching aliases on deprecation is off: move ${a.parameter} yourself, or turn it on.`
            : `${model} is deprecated${sunset} and Together names no replacement: point ${a.parameter} at another model before it stops serving.`,
        });
      }
    }
  } else {
    const model = String(event.data.model ?? '');
    const name = typeof event.data.endpoint_name === 'string' ? event.data.endpoint_name : '';
    for (const a of aliases) {
      if (a.follow === undefined || name === '' || !model.startsWith(a.follow)) continue;
      if (current[a.parameter] === name) {
        inPlace.push(a); // already there: a redelivery changes nothing
        continue;
      }
      changes.push({
        alias: a.alias,
        parameter: a.parameter,
        from: current[a.parameter],
        to: name,
        reason: `endpoint ${String(event.data.endpoint_id)} serving ${model} is ready`,
      });
    }
  }
  return { changes, alerts, inPlace };
}

/** A change as recorded before it is written: enough to log and announce it on a retry. */
export interface PendingChange {
  /** The outcome key of the event that makes it. */
  readonly event: string;
  readonly from?: string;
  readonly to: string;
  readonly reason: string;
}

/** Per-alias memory (`DynamoAliasState` is the real one). */
export interface AliasStateStore {
  /** The change recorded for `alias` and not yet settled, if any. */
  pending(alias: string): Promise<PendingChange | undefined>;
  /**
   * Records `change` before it is written. With `sinceMs` (a deployment), only when the alias has followed no
   * later deployment; false when refused.
   */
  reserve(alias: string, change: PendingChange, sinceMs?: number): Promise<boolean>;
  /** The change is written, logged and announced. */
  settle(alias: string, change: PendingChange): Promise<void>;
}

export interface AliasDeps {
  readonly aliases: readonly AliasSpec[];
  readonly switchOnDeprecation: boolean;
  readonly readParameters: (names: string[]) => Promise<Record<string, string | undefined>>;
  readonly writeParameter: (name: string, value: string) => Promise<void>;
  /** The alert topic; undefined when alerts are off. */
  readonly announce?: (subject: string, message: string) => Promise<void>;
  readonly store: IdempotencyStore;
  readonly state: AliasStateStore;
  readonly scope: string;
  readonly token: string;
  readonly nowMs: number;
  readonly remainingMs: number;
  readonly retentionSeconds: number;
  readonly log: Logger;
}

/** Reads the event; anything else is an error naming what is wrong. */
export function readAliasEvent(event: unknown): AliasEvent {
  const e = (event ?? {}) as { 'detail-type'?: unknown; detail?: Record<string, unknown> };
  const type = e['detail-type'];
  if (type !== 'model.deprecated' && type !== 'endpoint.ready')
    throw new Error(
      `expected model.deprecated or endpoint.ready, got detail-type ${String(type).slice(0, 80)}`,
    );
  const detail = e.detail ?? {};
  const data = detail.data;
  if (typeof data !== 'object' || data === null) throw new Error(`${type} without data`);
  const key = typeof detail.outcome_key === 'string' ? detail.outcome_key : detail.id;
  if (typeof key !== 'string' || key === '') throw new Error(`${type} without an outcome key or id`);
  return { type, outcomeKey: key, data: data as Record<string, unknown> };
}

export async function applyAliases(
  event: AliasEvent,
  deps: AliasDeps,
): Promise<AppliedAliases | 'done_before'> {
  const outcome = await runOnce(
    deps.store,
    {
      id: `${modelAliasesPrefix(deps.scope)}:${event.outcomeKey}`,
      deliveryId: event.outcomeKey,
      payloadHash: event.type,
      token: deps.token,
      nowMs: deps.nowMs,
      remainingMs: deps.remainingMs,
      retentionSeconds: deps.retentionSeconds,
    },
    {
      busyMessage: `${event.outcomeKey} is being applied by another invocation; retry later`,
      work: () => moveAliases(event, deps),
      complete: (req) => markDone(event, req, deps),
    },
  );
  return outcome.ran ? outcome.value : 'done_before';
}

export interface AppliedAliases {
  readonly changes: AliasChange[];
  readonly alerts: AliasAlert[];
}

/** Under the event's claim: the plan's changes made (or found made by an earlier attempt), its alerts sent. */
async function moveAliases(event: AliasEvent, deps: AliasDeps): Promise<AppliedAliases> {
  const current = await deps.readParameters(deps.aliases.map((a) => a.parameter));
  const plan = planAliases(event, deps.aliases, current, deps.switchOnDeprecation);
  const sinceMs = deploymentTime(event, deps);
  const changes: AliasChange[] = [];
  // In the aliases' order, whether made now or found made by an earlier attempt.
  for (const a of deps.aliases) {
    const change = plan.changes.find((c) => c.alias === a.alias);
    const made = change
      ? await makeChange(event, change, sinceMs, deps)
      : plan.inPlace.includes(a)
        ? await announceLanded(event, a, current[a.parameter], deps)
        : undefined;
    if (made) changes.push(made);
  }
  for (const a of plan.alerts) {
    deps.log({ level: 'WARN', message: 'model alias needs you', ...a, event: event.outcomeKey });
    await tell(
      deps,
      `Together model alias ${a.alias} points at a deprecated model`,
      `${a.parameter}: ${a.model}\n${a.reason}`,
    );
  }
  return { changes, alerts: plan.alerts };
}

/** The `since` of an `endpoint.ready`, which orders deployments; undefined for a deprecation or when unreadable. */
function deploymentTime(event: AliasEvent, deps: AliasDeps): number | undefined {
  if (event.type !== 'endpoint.ready') return undefined;
  const since = typeof event.data.since === 'string' ? Date.parse(event.data.since) : NaN;
  if (Number.isFinite(since)) return since;
  deps.log({
    level: 'WARN',
    message:
      'endpoint.ready without a readable since: followed without ordering it against other deployments',
    since: String(event.data.since).slice(0, 80),
    event: event.outcomeKey,
  });
  return undefined;
}

/**
 * Records the change, writes it, logs and announces it, settles the record. A deployment older than the one the
 * alias last followed is refused (undefined).
 */
async function makeChange(
  event: AliasEvent,
  c: AliasChange,
  sinceMs: number | undefined,
  deps: AliasDeps,
): Promise<AliasChange | undefined> {
  const pending: PendingChange = {
    event: event.outcomeKey,
    ...(c.from !== undefined ? { from: c.from } : {}),
    to: c.to,
    reason: c.reason,
  };
  if (!(await deps.state.reserve(c.alias, pending, sinceMs))) {
    deps.log({
      level: 'WARN',
      message: 'older deployment not followed',
      alias: c.alias,
      parameter: c.parameter,
      endpoint: c.to,
      since: String(event.data.since),
      why: 'the alias already followed a deployment that started later',
      event: event.outcomeKey,
    });
    return undefined;
  }
  await deps.writeParameter(c.parameter, c.to);
  await announceChange(event, c, deps);
  await settle(c.alias, pending, deps);
  return c;
}

/** An alias found on the event's target: announced if this event's change is still recorded (its write landed). */
async function announceLanded(
  event: AliasEvent,
  a: AliasSpec,
  value: string | undefined,
  deps: AliasDeps,
): Promise<AliasChange | undefined> {
  const pending = await deps.state.pending(a.alias);
  if (!pending || pending.event !== event.outcomeKey || pending.to !== value) return undefined;
  const c: AliasChange = {
    alias: a.alias,
    parameter: a.parameter,
    from: pending.from,
    to: pending.to,
    reason: pending.reason,
  };
  await announceChange(event, c, deps, 'written by an earlier attempt whose answer was lost');
  await settle(a.alias, pending, deps);
  return c;
}

async function announceChange(event: AliasEvent, c: AliasChange, deps: AliasDeps, note?: string) {
  deps.log({ message: 'model alias changed', ...c, event: event.outcomeKey, ...(note ? { note } : {}) });
  await tell(
    deps,
    `Together model alias ${c.alias} changed`,
    `${c.parameter}: ${c.from ?? '(unset)'} -> ${c.to}\nWhy: ${c.reason}`,
  );
}

/** Logged, not thrown: the change is made and announced; a record left behind only risks a second announcement. */
async function settle(alias: string, pending: PendingChange, deps: AliasDeps): Promise<void> {
  try {
    await deps.state.settle(alias, pending);
  } catch (err) {
    deps.log({ level: 'ERROR', message: 'settling an alias change failed', alias, error: errorName(err) });
  }
}

const COMPLETE_ATTEMPTS = 3;
const COMPLETE_BACKOFF_MS = 50;

/**
 * Marks the claim completed, with a few tries. Its work is done by now (changes written and announced, alerts
 * sent), so a failure is logged, not thrown: throwing would release the claim and Lambda's retry would send every
 * alert again (a change would not be repeated: it is in place and settled). The claim is left in progress; a
 * redelivery of the event after it lapses (the function's end plus `CLAIM_MARGIN_MS`) would alert again, a rarer duplicate.
 */
async function markDone(event: AliasEvent, req: ClaimRequest, deps: AliasDeps): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.store.complete(req);
      return;
    } catch (err) {
      const lost = (err as { name?: unknown }).name === 'ConditionalCheckFailedException';
      if (lost || attempt >= COMPLETE_ATTEMPTS) {
        deps.log({
          level: 'ERROR',
          message: 'marking the event done failed; its work is done',
          event: event.outcomeKey,
          error: errorName(err),
        });
        return;
      }
      const delay = Math.floor(Math.random() * COMPLETE_BACKOFF_MS * 2 ** (attempt - 1));
      await new Promise<void>((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** An announcement that fails is logged, not retried: the change is made and its log line is the record. */
async function tell(deps: AliasDeps, subject: string, message: string): Promise<void> {
  if (!deps.announce) return;
  try {
    await deps.announce(subject.slice(0, 99), message);
  } catch (err) {
    deps.log({
      level: 'ERROR',
      message: 'announcing an alias change failed',
      subject,
      error: errorName(err),
    });
  }
}
