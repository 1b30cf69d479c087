import { autoDeployClaimPrefix } from '../../lib/claim-keys';
import { runOnce } from '../shared/claim-once';
import { nonEmptyString } from '../shared/guards';
import { IdempotencyStore } from '../shared/idempotency';
import { Logger } from '../shared/log';
import { ApiResponse, errorDetail, TogetherUnreachableError } from '../shared/together-api';

/**
 * Recipe: deploy a completed fine-tune on a dedicated endpoint. One endpoint per fine-tune, whatever the
 * redeliveries and retries: a claim in the dedupe table serializes the work, and before creating anything the
 * handler looks among your dedicated endpoints for one that already serves the model (a create whose answer was
 * lost, a claim that lapsed, an event replayed from the archive) and adopts it. The poller, following your
 * endpoints, then publishes `endpoint.ready` or `endpoint.failed`.
 */

export interface AutoDeployConfig {
  readonly hardware: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Minutes without traffic before Together stops the endpoint; undefined: never. */
  readonly inactiveTimeoutMinutes?: number;
  /** Deploy only when eval_loss is known and at most this. */
  readonly maxEvalLoss?: number;
  /** Deploy only models whose name starts with this. */
  readonly modelNamePrefix?: string;
  /** Distinguishes this construct's claims from another's in a shared table. */
  readonly scope: string;
  readonly retentionSeconds: number;
}

export interface FineTuneCompleted {
  readonly fine_tune_id: string;
  readonly model_name: string;
  readonly eval_loss: number | null;
}

/** Together's API as the handler needs it: the key and deadlines are the adapter's. */
export type TogetherCall = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<ApiResponse>;

export interface AutoDeployDeps {
  readonly config: AutoDeployConfig;
  readonly store: IdempotencyStore;
  readonly together: TogetherCall;
  readonly nowMs: number;
  /** Until the function ends; the claim holds a little longer, so it cannot lapse while we still work. */
  readonly remainingMs: number;
  readonly token: string;
  readonly log: Logger;
}

export type Decision =
  | { readonly action: 'skipped'; readonly reason: string }
  | { readonly action: 'done_before' }
  | { readonly action: 'created' | 'adopted'; readonly endpointId: string; readonly endpointName: string };

/** Reads the event's data; anything else is an error that names what is wrong. */
export function readFineTuneCompleted(event: unknown): FineTuneCompleted {
  const e = (event ?? {}) as { 'detail-type'?: unknown; detail?: { data?: Record<string, unknown> } };
  if (e['detail-type'] !== 'fine_tune.completed') {
    throw new Error(
      `expected a fine_tune.completed event, got detail-type ${String(e['detail-type']).slice(0, 80)}`,
    );
  }
  const data = e.detail?.data ?? {};
  const fineTuneId = nonEmptyString(data.fine_tune_id);
  if (fineTuneId === undefined) throw new Error('fine_tune.completed without data.fine_tune_id');
  const modelName = nonEmptyString(data.model_name);
  if (modelName === undefined)
    throw new Error(`fine_tune.completed ${fineTuneId} without data.model_name: nothing to deploy`);
  const loss = data.eval_loss;
  return {
    fine_tune_id: fineTuneId,
    model_name: modelName,
    eval_loss: typeof loss === 'number' && Number.isFinite(loss) ? loss : null,
  };
}

/** The user's filter; undefined when the fine-tune passes it. */
export function filterReason(ft: FineTuneCompleted, config: AutoDeployConfig): string | undefined {
  if (config.modelNamePrefix !== undefined && !ft.model_name.startsWith(config.modelNamePrefix))
    return `model ${ft.model_name} does not start with "${config.modelNamePrefix}"`;
  if (config.maxEvalLoss !== undefined) {
    if (ft.eval_loss === null)
      return `eval_loss is unknown; deploying needs it at most ${config.maxEvalLoss}`;
    if (ft.eval_loss > config.maxEvalLoss)
      return `eval_loss ${ft.eval_loss} is above the limit ${config.maxEvalLoss}`;
  }
  return undefined;
}

export async function autoDeploy(ft: FineTuneCompleted, deps: AutoDeployDeps): Promise<Decision> {
  const { config, store, log } = deps;
  const reason = filterReason(ft, config);
  if (reason) {
    log({ message: 'fine-tune not deployed', fineTuneId: ft.fine_tune_id, model: ft.model_name, reason });
    return { action: 'skipped', reason };
  }
  const outcome = await runOnce(
    store,
    {
      id: `${autoDeployClaimPrefix(config.scope)}${ft.fine_tune_id}`,
      deliveryId: ft.fine_tune_id,
      payloadHash: ft.model_name,
      token: deps.token,
      nowMs: deps.nowMs,
      remainingMs: deps.remainingMs,
      retentionSeconds: config.retentionSeconds,
    },
    {
      // Another delivery is deploying it now: Lambda's retry comes back after it is done.
      busyMessage: `fine-tune ${ft.fine_tune_id} is being deployed by another invocation; retry later`,
      work: () => deploy(ft, deps),
      // A create whose answer never came may have worked: keep the claim until it lapses, so the retry comes late
      // enough for the listing to show it. A definite failure frees the fine-tune for the retry at once.
      keepClaimOn: (err) => err instanceof CreateOutcomeUnknown,
    },
  );
  if (!outcome.ran) {
    log({ message: 'fine-tune deployed before', fineTuneId: ft.fine_tune_id, model: ft.model_name });
    return { action: 'done_before' };
  }
  const decision = outcome.value;
  log({
    message: decision.action === 'created' ? 'endpoint created' : 'endpoint adopted',
    fineTuneId: ft.fine_tune_id,
    model: ft.model_name,
    endpointId: decision.endpointId,
    endpointName: decision.endpointName,
  });
  return decision;
}

/** POST /endpoints sent, no answer: it may exist. */
export class CreateOutcomeUnknown extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CreateOutcomeUnknown';
  }
}

/** What deploying found: an endpoint made now, or one already serving the model. */
type Deployed = Extract<Decision, { readonly endpointId: string }>;

async function deploy(ft: FineTuneCompleted, deps: AutoDeployDeps): Promise<Deployed> {
  const { config } = deps;
  const listed = await deps.together('GET', '/endpoints?type=dedicated&mine=true');
  if (listed.status < 200 || listed.status >= 300)
    throw new Error(`listing your endpoints failed: ${failure(listed)}`);
  const data = (listed.json as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data)) throw new Error('Together listed the endpoints without a data array');
  const existing = data.find(
    (e): e is { id: string; name?: unknown } =>
      typeof e === 'object' && e !== null && e.model === ft.model_name && typeof e.id === 'string',
  );
  if (existing) {
    return {
      action: 'adopted',
      endpointId: existing.id,
      endpointName: typeof existing.name === 'string' ? existing.name : '',
    };
  }

  const body = {
    model: ft.model_name,
    hardware: config.hardware,
    autoscaling: { min_replicas: config.minReplicas, max_replicas: config.maxReplicas },
    display_name: `${ft.model_name} (fine-tune ${ft.fine_tune_id})`.slice(0, 200),
    ...(config.inactiveTimeoutMinutes !== undefined
      ? { inactive_timeout: config.inactiveTimeoutMinutes }
      : {}),
  };
  let created: ApiResponse;
  try {
    created = await deps.together('POST', '/endpoints', body);
  } catch (err) {
    if (err instanceof TogetherUnreachableError) throw new CreateOutcomeUnknown(err.message);
    throw err;
  }
  // A 5xx may come after the endpoint was made: treat it as unknown too.
  if (created.status >= 500) throw new CreateOutcomeUnknown(`creating the endpoint: ${failure(created)}`);
  if (created.status < 200 || created.status >= 300)
    throw new Error(`Together refused the endpoint for ${ft.model_name}: ${failure(created)}`);
  const answer = created.json as { id?: unknown; name?: unknown } | undefined;
  if (typeof answer?.id !== 'string')
    throw new CreateOutcomeUnknown('Together answered the create without an endpoint id');
  return {
    action: 'created',
    endpointId: answer.id,
    endpointName: typeof answer.name === 'string' ? answer.name : '',
  };
}

function failure(res: ApiResponse): string {
  return `HTTP ${res.status}: ${errorDetail(res.json, res.status).message}`;
}
