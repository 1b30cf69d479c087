import { sampleEvent } from '../../lib/events';

/** Events as EventBridge hands them to the recipes, shared by their core and adapter tests. */

/** A deprecated model and the replacement Together names. */
export const OLD_MODEL = 'meta-llama/Llama-2-70b-chat-hf';
export const NEW_MODEL = 'meta-llama/Llama-3.3-70B-Instruct-Turbo';

function aliasEvent(type: 'model.deprecated' | 'endpoint.ready', data: Record<string, unknown>, key: string) {
  const sample = sampleEvent(type, key);
  return { 'detail-type': type, detail: { ...sample, data: { ...sample.data, ...data }, outcome_key: key } };
}

/** `model.deprecated` of `OLD_MODEL`, sunset 2027-03-01, naming `replacement`. */
export const deprecated = (replacement: string | null) =>
  aliasEvent(
    'model.deprecated',
    { model_id: OLD_MODEL, replacement_model: replacement, sunset_date: '2027-03-01' },
    `model.deprecated:${OLD_MODEL}:2026-11-26T10:00:00.000Z`,
  );

/** `endpoint.ready` of endpoint `id` (named `name`, serving `model`), ready since `since`. */
export const ready = (model: string, name: string, id = 'endpoint-1', since = '2026-11-26T10:00:00.000Z') =>
  aliasEvent(
    'endpoint.ready',
    { endpoint_id: id, endpoint_name: name, model, since },
    `endpoint.ready:${id}:${since}`,
  );

/** `fine_tune.checkpoint` of ft-1 at step 40, with `data` over the sample's. */
export function checkpointEvent(data: Record<string, unknown>, createdAt: unknown = '2026-11-26T11:58:00Z') {
  const sample = sampleEvent('fine_tune.checkpoint', 'fine_tune.checkpoint:ft-1:40');
  return {
    'detail-type': 'fine_tune.checkpoint',
    source: 'together.ai',
    detail: { ...sample, created_at: createdAt, data: { ...sample.data, ...data } },
  };
}
