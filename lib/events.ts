/**
 * The one event catalogue. Everything that knows about event types derives from this module: the TypeScript
 * types below, the verifier's validation, the construct's rules, the local router, the sample events and the
 * README table. Add a type here and all of them follow.
 *
 * This module must import nothing: the Lambda handlers bundle it.
 */

/** The EventBridge `source` of every event this library publishes. */
export const EVENT_SOURCE = 'together.ai';

/** Longest event id the verifier accepts (it becomes a DynamoDB key). */
export const MAX_EVENT_ID_LENGTH = 256;
/** Longest event type the verifier accepts (it becomes the EventBridge detail-type). */
export const MAX_EVENT_TYPE_LENGTH = 128;

type FieldKind = 'string' | 'number' | 'integer';

export interface FieldSpec {
  readonly kind: FieldKind;
  /** null is a legal value: the source may not know it (e.g. a poller that cannot read the loss). */
  readonly nullable?: boolean;
  /** The field may be absent (only some sources send it). */
  readonly optional?: boolean;
  readonly description: string;
  /** A realistic value: sample events, docs and the local demo are built from it. */
  readonly example: string | number | null;
}

export interface EventSpec {
  readonly description: string;
  /**
   * The construct sends it to the alert topic as readable text with this advice; with `when`, only events whose
   * `data` fields hold one of the listed values.
   */
  readonly alert?: { readonly advice: string; readonly when?: Readonly<Record<string, readonly string[]>> };
  /**
   * The data fields that name the outcome. The dedupe claim is `<type>:<values>`, so the webhook and the poller
   * agree on one key for one job outcome, whatever delivery id each carries. An optional field that is absent is
   * left out of the key.
   */
  readonly outcomeKey: readonly string[];
  /**
   * Published by this library, not sent by Together (so registration does not ask for it): `poller`, or the
   * recipe construct that publishes it.
   */
  readonly producer?: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

// Fields several types share. `as const` keeps each literal `kind`, which the data types are built from (typed
// `FieldSpec`, a shared field's kind widened to every kind, and the field to `string | number`).
const FINE_TUNE_ID = {
  kind: 'string',
  example: 'ft-8a7b6c5d',
  description: 'The fine-tune job id (ft-...).',
} as const satisfies FieldSpec;

const ENDPOINT_ID = {
  kind: 'string',
  example: 'endpoint-d23901de-ef8f-44bf-b3e7-de9c1ca8f2d7',
  description: 'The dedicated endpoint id.',
} as const satisfies FieldSpec;
const ENDPOINT_NAME = {
  kind: 'string',
  example: 'acme/Meta-Llama-3.1-8B-Instruct-ft-a32b82a1',
  description: "The endpoint's system name: what inference requests pass as `model`.",
} as const satisfies FieldSpec;
const ENDPOINT_MODEL = {
  kind: 'string',
  example: 'acme/Meta-Llama-3.1-8B-Instruct-ft',
  description: 'The model the endpoint serves.',
} as const satisfies FieldSpec;

export const EVENT_CATALOGUE = {
  'fine_tune.completed': {
    description: 'A fine-tuning job finished and its model is ready.',
    outcomeKey: ['fine_tune_id'],
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      model_name: {
        kind: 'string',
        example: 'acme/Meta-Llama-3.1-8B-Instruct-ft',
        description: 'Name of the output model.',
      },
      eval_loss: {
        kind: 'number',
        nullable: true,
        example: 0.4213,
        description: 'Final evaluation loss, null if unknown.',
      },
    },
  },
  'fine_tune.failed': {
    description: 'A fine-tuning job stopped with an error.',
    alert: { advice: 'Check the error message and the training data, then resubmit the job.' },
    outcomeKey: ['fine_tune_id'],
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      error_message: {
        kind: 'string',
        example: 'Training data contains invalid JSONL on line 12',
        description: 'What Together reported.',
      },
      step: {
        kind: 'integer',
        nullable: true,
        example: 120,
        description: 'Training step at failure, null if unknown.',
      },
    },
  },
  'fine_tune.checkpoint': {
    description: 'A fine-tuning job saved a checkpoint.',
    outcomeKey: ['fine_tune_id', 'step'],
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      step: { kind: 'integer', example: 40, description: 'Training step of the checkpoint.' },
      loss: {
        kind: 'number',
        nullable: true,
        example: 1.0831,
        description: 'Training loss at the checkpoint, null if unknown.',
      },
    },
  },
  'fine_tune.cancelled': {
    description: 'A fine-tuning job was cancelled.',
    outcomeKey: ['fine_tune_id'],
    fields: { fine_tune_id: FINE_TUNE_ID },
  },
  'fine_tune.stalled': {
    description: 'A fine-tuning job has shown no progress for hours.',
    alert: {
      advice:
        'Check the training data format: validate the JSONL before submitting. Cancel and resubmit if it stays stuck.',
    },
    outcomeKey: ['fine_tune_id', 'since'],
    producer: 'poller',
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      status: { kind: 'string', example: 'running', description: 'The job status that has not changed.' },
      since: {
        kind: 'string',
        example: '2026-11-23T06:00:00.000Z',
        description: 'Time of the last change seen.',
      },
    },
  },
  'model.deprecated': {
    description: 'A model you use is deprecated and will be removed.',
    alert: { advice: 'Move your traffic to the replacement model before the sunset date.' },
    // The poller names the episode (when the model went missing), so a model that returns and goes again is a
    // new outcome; a webhook without that field keys on the model alone.
    outcomeKey: ['model_id', 'missing_since'],
    fields: {
      model_id: {
        kind: 'string',
        example: 'meta-llama/Llama-2-70b-chat-hf',
        description: 'The deprecated model.',
      },
      replacement_model: {
        kind: 'string',
        nullable: true,
        example: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
        description: 'Suggested replacement, if any.',
      },
      sunset_date: {
        kind: 'string',
        nullable: true,
        example: '2027-01-31',
        description: 'ISO date after which it stops serving.',
      },
      missing_since: {
        kind: 'string',
        optional: true,
        example: '2026-11-23T11:00:00.000Z',
        description: 'Poller: when the model was first missing from the model list.',
      },
    },
  },
  'batch.done': {
    description: 'A batch job reached a terminal state.',
    alert: {
      advice: 'The batch expired before it finished: split it into smaller batches and submit them again.',
      when: { status: ['EXPIRED'] },
    },
    outcomeKey: ['batch_id'],
    fields: {
      batch_id: { kind: 'string', example: 'batch-1f2e3d4c', description: 'The batch job id.' },
      output_url: {
        kind: 'string',
        nullable: true,
        example: 'https://api.together.xyz/v1/files/file-9a8b7c/content',
        description: 'Where to download the output, if any.',
      },
      total_tokens: {
        kind: 'integer',
        nullable: true,
        example: 182345,
        description: 'Tokens processed, null if unknown.',
      },
      status: {
        kind: 'string',
        optional: true,
        example: 'COMPLETED',
        description: 'COMPLETED, FAILED, EXPIRED or CANCELLED.',
      },
      output_file_id: {
        kind: 'string',
        nullable: true,
        optional: true,
        example: 'file-9a8b7c',
        description: 'The output file.',
      },
      error_file_id: {
        kind: 'string',
        nullable: true,
        optional: true,
        example: null,
        description: 'The error file, if any.',
      },
    },
  },
  'evaluation.completed': {
    description: 'An evaluation job finished with results.',
    outcomeKey: ['workflow_id'],
    producer: 'poller',
    fields: {
      workflow_id: { kind: 'string', example: 'eval-1234aedf', description: 'The evaluation job id.' },
      evaluation_type: {
        kind: 'string',
        nullable: true,
        example: 'score',
        description: 'classify, score or compare.',
      },
      pass_percentage: {
        kind: 'number',
        nullable: true,
        example: 82.5,
        description: 'Share of samples that passed (classify, score), null if not reported.',
      },
      mean_score: {
        kind: 'number',
        nullable: true,
        example: 7.4,
        description: 'Mean judge score (score), null otherwise.',
      },
      result_file_id: {
        kind: 'string',
        nullable: true,
        example: 'file-1234-aefd',
        description: 'The file with every sample result, if any.',
      },
      summary: {
        kind: 'string',
        example: 'score: mean 7.4, 82.5% passed',
        description: 'The results in one line.',
      },
    },
  },
  'evaluation.failed': {
    description: 'An evaluation job stopped with an error.',
    alert: { advice: "Check the evaluation's parameters, model and input file, then run it again." },
    outcomeKey: ['workflow_id'],
    producer: 'poller',
    fields: {
      workflow_id: { kind: 'string', example: 'eval-1234aedf', description: 'The evaluation job id.' },
      status: { kind: 'string', example: 'error', description: 'error or user_error.' },
      error_message: {
        kind: 'string',
        example: 'input file has no "prompt" column',
        description: 'What Together reported.',
      },
    },
  },
  'endpoint.ready': {
    description: 'A dedicated endpoint finished starting and serves its model.',
    outcomeKey: ['endpoint_id', 'since'],
    producer: 'poller',
    fields: {
      endpoint_id: ENDPOINT_ID,
      endpoint_name: ENDPOINT_NAME,
      model: ENDPOINT_MODEL,
      since: {
        kind: 'string',
        example: '2026-11-23T11:52:00Z',
        description: 'When this start began (the endpoint created, or seen starting): names the episode.',
      },
    },
  },
  'endpoint.failed': {
    description: 'A dedicated endpoint failed to start.',
    alert: {
      advice:
        "Check the endpoint's hardware and model in Together's console; delete it if it stays in ERROR.",
    },
    outcomeKey: ['endpoint_id', 'since'],
    producer: 'poller',
    fields: {
      endpoint_id: ENDPOINT_ID,
      endpoint_name: ENDPOINT_NAME,
      model: ENDPOINT_MODEL,
      state: { kind: 'string', example: 'ERROR', description: 'The state Together reports.' },
      since: {
        kind: 'string',
        example: '2026-11-23T11:52:00Z',
        description: 'When this start began (the endpoint created, or seen starting): names the episode.',
      },
    },
  },
  'batch.collected': {
    description: "A finished batch's output was copied to S3 and its tokens counted.",
    outcomeKey: ['batch_id'],
    producer: 'TogetherBatchResults',
    fields: {
      batch_id: {
        kind: 'string',
        example: '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b',
        description: 'The batch job id.',
      },
      s3_uri: {
        kind: 'string',
        nullable: true,
        example: 's3://acme-batch-results/together/0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b/output.jsonl',
        description: 'Where the output file now is, null if the batch had none.',
      },
      error_s3_uri: {
        kind: 'string',
        nullable: true,
        example: null,
        description: 'Where the error file now is, null if the batch had none.',
      },
      lines: { kind: 'integer', example: 1200, description: 'Result lines in the output file.' },
      failed_lines: {
        kind: 'integer',
        example: 3,
        description:
          'Requests that failed: error lines, and output lines with an error or an HTTP error status.',
      },
      total_tokens: {
        kind: 'integer',
        example: 1843200,
        description: "Sum of each output line's usage.total_tokens.",
      },
      prompt_tokens: { kind: 'integer', example: 1228800, description: 'Sum of usage.prompt_tokens.' },
      completion_tokens: {
        kind: 'integer',
        example: 614400,
        description: 'Sum of usage.completion_tokens.',
      },
      bytes: { kind: 'integer', example: 5242880, description: 'Size of the output file.' },
    },
  },
} as const satisfies Record<string, EventSpec>;

export type EventCatalogue = typeof EVENT_CATALOGUE;
/** Every event type in the catalogue, e.g. `'fine_tune.completed'`. */
export type TogetherEventType = keyof EventCatalogue;

/** All catalogue event types, in catalogue order. */
export const EVENT_TYPES = Object.keys(EVENT_CATALOGUE) as TogetherEventType[];

type KindType<K extends FieldKind> = K extends 'string' ? string : number;
type FieldValue<F> = F extends { kind: infer K extends FieldKind; nullable: true }
  ? KindType<K> | null
  : F extends { kind: infer K extends FieldKind }
    ? KindType<K>
    : never;
type Fields<T extends TogetherEventType> = EventCatalogue[T]['fields'];
type OptionalNames<T extends TogetherEventType> = {
  [F in keyof Fields<T>]: Fields<T>[F] extends { optional: true } ? F : never;
}[keyof Fields<T>];

type RequiredNames<T extends TogetherEventType> = Exclude<keyof Fields<T>, OptionalNames<T>>;
/** One object type from an intersection (what editors and error messages show). */
type Flat<O> = { [K in keyof O]: O[K] } & {};

/**
 * The `data` payload of one event type: exactly the catalogue's fields, each of its kind (`integer` and `number`
 * are `number`), `| null` where the catalogue allows null, optional where it is. No index signature, so reading a
 * misspelt field (`data.modle_name`) or writing one in an object literal does not compile. A sender may still add
 * fields (the verifier passes them through, unvalidated); they are in the JSON, not in this type.
 */
export type TogetherEventData<T extends TogetherEventType> = Flat<
  { readonly [F in RequiredNames<T>]: FieldValue<Fields<T>[F]> } & {
    readonly [F in OptionalNames<T>]?: FieldValue<Fields<T>[F]>;
  }
>;

/** The envelope Together signs and the verifier publishes as the EventBridge `detail`. */
export interface TogetherEnvelope<T extends string = string, D = Readonly<Record<string, unknown>>> {
  readonly id: string;
  readonly type: T;
  readonly created_at?: string | number;
  readonly data: D;
}

/** Discriminated union of every catalogue event: narrow on `type`. */
export type TogetherEvent = {
  [T in TogetherEventType]: TogetherEnvelope<T, TogetherEventData<T>>;
}[TogetherEventType];

/** The field beside the envelope's own that names the outcome: the same for the webhook's and the poller's copy. */
export const OUTCOME_KEY_FIELD = 'outcome_key';

/**
 * The published `detail`: the envelope as Together sent it (or as the poller built it), plus `outcome_key`, the
 * dedupe key of the outcome. Two copies of one outcome (the narrow crash windows in the README) carry the same
 * `outcome_key`, so a handler can be idempotent on it.
 */
export type TogetherEventDetail<T extends TogetherEventType = TogetherEventType> = {
  [K in T]: TogetherEnvelope<K, TogetherEventData<K>> & { readonly outcome_key: string };
}[T];

/**
 * `detail` text with `outcome_key` added, the envelope's own bytes untouched. An envelope that carries an
 * `outcome_key` of its own has it replaced (re-serialized), so a sender cannot name another outcome.
 */
export function withOutcomeKey(detail: string, envelope: TogetherEnvelope, key: string): string {
  if (Object.prototype.hasOwnProperty.call(envelope, OUTCOME_KEY_FIELD)) {
    return JSON.stringify({ ...envelope, [OUTCOME_KEY_FIELD]: key });
  }
  const end = detail.lastIndexOf('}');
  return `${detail.slice(0, end)},"${OUTCOME_KEY_FIELD}":${JSON.stringify(key)}}`;
}

/** Bytes `withOutcomeKey` adds (when it does not re-serialize). */
export function outcomeKeyBytes(key: string): number {
  return OUTCOME_KEY_FIELD.length + 4 + new TextEncoder().encode(JSON.stringify(key)).length;
}

/**
 * The EventBridge event a rule target (e.g. a Lambda handler) receives for event type `T`. With several types (or
 * none given: every type), a union: narrowing on `detail-type` or `detail.type` narrows `detail.data`, and an
 * event of one type is an event of any set of types that includes it.
 */
export type TogetherEventBridgeEvent<T extends TogetherEventType = TogetherEventType> = {
  [K in T]: {
    readonly version: string;
    readonly id: string;
    readonly 'detail-type': K;
    readonly source: typeof EVENT_SOURCE;
    readonly account: string;
    readonly time: string;
    readonly region: string;
    readonly resources: string[];
    readonly detail: TogetherEventDetail<K>;
  };
}[T];

/** The catalogue entry of `type`, as the general shape (no literal types to narrow through). */
export function eventSpec(type: TogetherEventType): EventSpec {
  return EVENT_CATALOGUE[type];
}

export function isCatalogueType(type: string): type is TogetherEventType {
  return Object.prototype.hasOwnProperty.call(EVENT_CATALOGUE, type);
}

/** Outcome of envelope validation: hard errors reject the request, soft problems are logged and counted. */
export type EnvelopeValidation =
  | {
      readonly ok: true;
      readonly envelope: TogetherEnvelope;
      readonly known: boolean;
      readonly problems: string[];
    }
  | { readonly ok: false; readonly reason: string };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasControlChars(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(value);
}

function fieldProblem(name: string, spec: FieldSpec, value: unknown): string | undefined {
  if (value === undefined) return spec.optional ? undefined : `data.${name} is missing`;
  if (value === null) return spec.nullable ? undefined : `data.${name} is null`;
  const ok =
    spec.kind === 'string'
      ? typeof value === 'string'
      : spec.kind === 'integer'
        ? Number.isInteger(value)
        : typeof value === 'number' && Number.isFinite(value);
  return ok ? undefined : `data.${name} should be ${spec.nullable ? `${spec.kind} or null` : spec.kind}`;
}

/**
 * Checks a parsed JSON value against the envelope contract. The envelope itself must be right (it names the
 * event and its idempotency key); a known type whose data is incomplete still passes, with its problems listed,
 * because a missed event is worse than a loose one.
 */
export function validateEnvelope(value: unknown): EnvelopeValidation {
  if (!isPlainObject(value)) return { ok: false, reason: 'body must be a JSON object' };
  const { id, type, created_at: createdAt, data } = value;
  if (typeof id !== 'string' || id.length === 0)
    return { ok: false, reason: 'id must be a non-empty string' };
  if (id.length > MAX_EVENT_ID_LENGTH) {
    return { ok: false, reason: `id must be at most ${MAX_EVENT_ID_LENGTH} characters (got ${id.length})` };
  }
  if (typeof type !== 'string' || type.length === 0) {
    return { ok: false, reason: 'type must be a non-empty string' };
  }
  if (type.length > MAX_EVENT_TYPE_LENGTH || hasControlChars(type)) {
    return {
      ok: false,
      reason: `type must be at most ${MAX_EVENT_TYPE_LENGTH} printable characters (got ${type.length})`,
    };
  }
  if (createdAt !== undefined && typeof createdAt !== 'string' && typeof createdAt !== 'number') {
    return { ok: false, reason: 'created_at must be a string or a number when present' };
  }
  if (!isPlainObject(data)) return { ok: false, reason: 'data must be a JSON object' };

  const envelope = value as unknown as TogetherEnvelope;
  if (!isCatalogueType(type)) return { ok: true, envelope, known: false, problems: [] };
  const fields = eventSpec(type).fields;
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(fields)) {
    const problem = fieldProblem(name, spec, data[name]);
    if (problem) problems.push(problem);
  }
  return { ok: true, envelope, known: true, problems };
}

/** The first part of an outcome key named by the delivery alone: no catalogue type may be called this. */
export const DELIVERY_KEY_PREFIX = 'delivery:';

/**
 * The dedupe key of an event: `<type>:<outcome fields>` for a catalogue type whose outcome fields are all present
 * (so a webhook and a poll of the same outcome claim the same key), else `delivery:<envelope id>`, which can never
 * equal a catalogue outcome's key: an envelope of another type cannot take the key of a real outcome.
 */
export function outcomeKey(envelope: TogetherEnvelope): string {
  const byDelivery = `${DELIVERY_KEY_PREFIX}${envelope.id}`;
  if (!isCatalogueType(envelope.type)) return byDelivery;
  const parts: string[] = [];
  const spec = eventSpec(envelope.type);
  for (const name of spec.outcomeKey) {
    const value = envelope.data[name];
    if (value === undefined && spec.fields[name]?.optional) continue;
    if (typeof value !== 'string' && typeof value !== 'number') return byDelivery;
    if (value === '') return byDelivery;
    parts.push(String(value));
  }
  const key = `${envelope.type}:${parts.join(':')}`;
  // Keep keys small whatever the ids look like; the type stays readable.
  return key.length <= MAX_OUTCOME_KEY_LENGTH ? key : `${envelope.type}:#${fnv1a(parts.join('\u0000'))}`;
}

const MAX_OUTCOME_KEY_LENGTH = 512;

/** 64-bit FNV-1a as hex: a stable short name for an over-long key (no crypto import in this module). */
function fnv1a(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** The `handlers` property of an event type: `fine_tune.completed` -> `fineTuneCompleted`. */
export function handlerProperty(type: string): string {
  return type.replace(/[^A-Za-z0-9]+([A-Za-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Catalogue types Together itself may send (those this library produces excluded). */
export const WEBHOOK_EVENT_TYPES = EVENT_TYPES.filter((type) => !eventSpec(type).producer);

/** Data to put over a sample's: some of the type's own fields (with several types, those of one of them). */
export type SampleData<T extends TogetherEventType> = { [K in T]: Partial<TogetherEventData<K>> }[T];

function sampleData(type: TogetherEventType, data: object = {}): Record<string, unknown> {
  if (!isCatalogueType(type)) {
    throw new Error(
      `sampleEvent: ${JSON.stringify(type)} is not a catalogue event type (one of: ${EVENT_TYPES.join(', ')})`,
    );
  }
  if (!isPlainObject(data)) {
    throw new Error(`sampleEvent('${type}'): data must be an object of fields, got ${JSON.stringify(data)}`);
  }
  const fields = eventSpec(type).fields;
  const unknown = Object.keys(data).filter((name) => !Object.prototype.hasOwnProperty.call(fields, name));
  if (unknown.length > 0) {
    const names = unknown.map((name) => `data.${name}`).join(', ');
    throw new Error(
      `sampleEvent('${type}'): ${names} ${unknown.length > 1 ? 'are not fields' : 'is not a field'} of ${type} ` +
        `(its fields: ${Object.keys(fields).join(', ')})`,
    );
  }
  const examples = Object.fromEntries(Object.entries(fields).map(([name, spec]) => [name, spec.example]));
  // A field given as undefined is left out: how a test makes an optional (or a required) field absent.
  return Object.fromEntries(
    Object.entries({ ...examples, ...data }).filter(([, value]) => value !== undefined),
  );
}

/** When every sample happened (its `created_at`, and its EventBridge event's `time`). */
const SAMPLE_TIME = '2026-11-23T12:00:00Z';

/**
 * A sample of `type` (demo, docs, tests): the catalogue's examples, well-formed, with `data` put over them:
 * `sampleEvent('fine_tune.completed', 'evt_1', { eval_loss: null })`. A field `type` does not have is a compile
 * error, and refused at run time; a value of the wrong kind is a compile error only (a test may want one).
 */
export function sampleEvent<T extends TogetherEventType>(
  type: T,
  id = `sample-${type}`,
  data?: SampleData<T>,
): Extract<TogetherEvent, { type: T }> {
  return { id, type, created_at: SAMPLE_TIME, data: sampleData(type, data) } as unknown as Extract<
    TogetherEvent,
    { type: T }
  >;
}

/**
 * `sampleEvent(type)` as a rule target (e.g. a Lambda handler) receives it: EventBridge's event around it, with
 * the `outcome_key` the verifier adds. For unit-testing a handler:
 * `await handler(sampleEventBridgeEvent('fine_tune.completed', { model_name: 'acme/m' }))`.
 */
export function sampleEventBridgeEvent<T extends TogetherEventType>(
  type: T,
  data?: SampleData<T>,
): TogetherEventBridgeEvent<T> {
  const envelope: TogetherEnvelope = sampleEvent(type, `sample-${type}`, data);
  return {
    version: '0',
    id: '6f1d2c3b-4a59-4e68-9d7c-0b1a2f3e4d5c',
    'detail-type': type,
    source: EVENT_SOURCE,
    account: '123456789012',
    time: SAMPLE_TIME,
    region: 'us-east-1',
    resources: [],
    detail: { ...envelope, [OUTCOME_KEY_FIELD]: outcomeKey(envelope) },
  } as unknown as TogetherEventBridgeEvent<T>;
}
