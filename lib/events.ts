/**
 * The one event catalogue (its data in lib/event-catalogue.ts). Everything that knows about event types derives
 * from this module: the TypeScript types below, the verifier's validation, the construct's rules, the local
 * router, the sample events and the README table.
 *
 * This module imports only the catalogue's data, which imports nothing: the Lambda handlers bundle both.
 */

import { EVENT_CATALOGUE, EventSpec, FieldKind, FieldSpec } from './event-catalogue';

/** The EventBridge `source` of every event this library publishes. */
export const EVENT_SOURCE = 'together.ai';

/** Longest event id the verifier accepts (it becomes a DynamoDB key). */
export const MAX_EVENT_ID_LENGTH = 256;
/** Longest event type the verifier accepts (it becomes the EventBridge detail-type). */
export const MAX_EVENT_TYPE_LENGTH = 128;

export { EVENT_CATALOGUE };
export type { EventSpec, FieldSpec };

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
