import { ClaimRequest, IdempotencyStore, STATUS_COMPLETED } from '../shared/idempotency';
import { errorName, Logger } from '../shared/log';

/**
 * Recipe: model aliases that inference pipelines read from SSM (`/together/models/<alias>`), kept pointing at a
 * model that serves. On `model.deprecated`, each alias on the deprecated model moves to `replacement_model` when
 * there is one and you opted in; otherwise you are alerted. On `endpoint.ready`, an alias that follows a model
 * prefix moves to the new endpoint. Every change is logged and announced (old value, new value).
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

/** What the event means for the aliases, given their current values. Pure. */
export function planAliases(
  event: AliasEvent,
  aliases: readonly AliasSpec[],
  current: Readonly<Record<string, string | undefined>>,
  switchOnDeprecation: boolean,
): { changes: AliasChange[]; alerts: AliasAlert[] } {
  const changes: AliasChange[] = [];
  const alerts: AliasAlert[] = [];
  if (event.type === 'model.deprecated') {
    const model = String(event.data.model_id ?? '');
    const replacement = typeof event.data.replacement_model === 'string' ? event.data.replacement_model : '';
    const sunset = typeof event.data.sunset_date === 'string' ? ` (sunset ${event.data.sunset_date})` : '';
    for (const a of aliases) {
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
      if (current[a.parameter] === name) continue; // already there: a redelivery changes nothing
      changes.push({
        alias: a.alias,
        parameter: a.parameter,
        from: current[a.parameter],
        to: name,
        reason: `endpoint ${String(event.data.endpoint_id)} serving ${model} is ready`,
      });
    }
  }
  return { changes, alerts };
}

export interface AliasDeps {
  readonly aliases: readonly AliasSpec[];
  readonly switchOnDeprecation: boolean;
  readonly readParameters: (names: string[]) => Promise<Record<string, string | undefined>>;
  readonly writeParameter: (name: string, value: string) => Promise<void>;
  /** The alert topic; undefined when alerts are off. */
  readonly announce?: (subject: string, message: string) => Promise<void>;
  readonly store: IdempotencyStore;
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
): Promise<{ changes: AliasChange[]; alerts: AliasAlert[] } | 'done_before'> {
  const req: ClaimRequest = {
    id: `model-aliases#${deps.scope}:${event.outcomeKey}`,
    deliveryId: event.outcomeKey,
    payloadHash: event.type,
    token: deps.token,
    nowMs: deps.nowMs,
    inProgressMs: deps.remainingMs + 10_000,
    retentionSeconds: deps.retentionSeconds,
  };
  const claim = await deps.store.claim(req);
  if (!claim.claimed) {
    if (claim.existing?.status === STATUS_COMPLETED) return 'done_before';
    throw new Error(`${event.outcomeKey} is being applied by another invocation; retry later`);
  }
  try {
    const current = await deps.readParameters(deps.aliases.map((a) => a.parameter));
    const plan = planAliases(event, deps.aliases, current, deps.switchOnDeprecation);
    for (const c of plan.changes) {
      await deps.writeParameter(c.parameter, c.to);
      deps.log({ message: 'model alias changed', ...c, event: event.outcomeKey });
      await tell(
        deps,
        `Together model alias ${c.alias} changed`,
        `${c.parameter}: ${c.from ?? '(unset)'} -> ${c.to}\nWhy: ${c.reason}`,
      );
    }
    for (const a of plan.alerts) {
      deps.log({ level: 'WARN', message: 'model alias needs you', ...a, event: event.outcomeKey });
      await tell(
        deps,
        `Together model alias ${a.alias} points at a deprecated model`,
        `${a.parameter}: ${a.model}\n${a.reason}`,
      );
    }
    await deps.store.complete(req);
    return plan;
  } catch (err) {
    await deps.store.release(req).catch(() => undefined);
    throw err;
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
