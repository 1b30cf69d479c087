import { aws_logs as logs, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { SIGNATURE_SCHEMES } from './contract';
import { EVENT_TYPES, isCatalogueType } from './events';
import type { ModelDeprecationInfo, PollerOptions } from './poller';
import type { RegistrationOptions } from './registration';

/**
 * Prop checks shared by the constructs: each error names the construct, the prop and the value received. Props
 * arrive unchecked from JavaScript, and from Python and the other jsii languages, so each constructor first checks
 * every prop's kind (`checkProps` with the construct's `Shape`), then the values (`checkNumber`, ...).
 */

export function checkNumber(
  owner: string,
  name: string,
  value: number | undefined,
  min: number,
  max: number,
  integer = false,
): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(
      `${owner}: ${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${shown(value)}`,
    );
  }
}

export function checkHttpsUrl(owner: string, name: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!/^https:\/\/[^\s/]+/.test(value))
    throw new Error(`${owner}: ${name} must be an https URL, got ${shown(value)}`);
}

export function checkEventType(owner: string, where: string, type: string): void {
  if (!isCatalogueType(type)) {
    throw new Error(
      `${owner}: unknown event type ${JSON.stringify(type)} in ${where}; known types: ${EVENT_TYPES.join(', ')}`,
    );
  }
}

/** A duration within [min, max], told back in words ("got 30 minutes"), not as a fraction of some unit. */
export function checkDuration(
  owner: string,
  name: string,
  value: Duration | undefined,
  min: Duration,
  max: Duration,
): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms < min.toMilliseconds() || ms > max.toMilliseconds()) {
    throw new Error(
      `${owner}: ${name} must be from ${min.toHumanString()} to ${max.toHumanString()}, got ${value.toHumanString()}`,
    );
  }
}

// Kinds: what a prop must be, checked before anything reads it.

interface KindBase {
  /** What the messages say the prop must be: "a Duration (e.g. Duration.minutes(5))". */
  readonly expected: string;
  readonly test: (value: unknown) => boolean;
  /** For a list or an object that passed `test`: checks each part, named under `name`. */
  readonly parts?: (owner: string, name: string, value: unknown) => void;
}

/** The kind of an optional prop: left out (`undefined`), it is not set; `null` is refused. */
export interface Kind extends KindBase {
  readonly required?: false;
}

/** The kind of a prop that must be given. */
export interface RequiredKind extends KindBase {
  readonly required: true;
}

/**
 * The kind of every prop of `T`, required exactly where `T` requires it: a prop added to `T` without its kind, or
 * with the wrong optionality, does not compile.
 */
export type Shape<T> = { readonly [K in keyof T]-?: undefined extends T[K] ? Kind : RequiredKind };

export function required(kind: Kind): RequiredKind {
  return { ...kind, required: true };
}

type Loose = Record<string, unknown>;
const isObject = (value: unknown): value is Loose =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object with these string properties and these methods (how an AWS resource interface looks from here). */
function resource(expected: string, strings: readonly string[], methods: readonly string[] = []): Kind {
  return {
    expected,
    test: (v) =>
      isObject(v) &&
      strings.every((p) => typeof v[p] === 'string') &&
      methods.every((m) => typeof v[m] === 'function'),
  };
}

const retentionDays: readonly unknown[] = Object.values(logs.RetentionDays).filter(
  (v) => typeof v === 'number',
);
const removalPolicies: readonly unknown[] = Object.values(RemovalPolicy);

/** The kinds of the constructs' props. */
export const KIND = {
  string: { expected: 'a string', test: (v) => typeof v === 'string' },
  boolean: { expected: 'a boolean', test: (v) => typeof v === 'boolean' },
  number: { expected: 'a number', test: (v) => typeof v === 'number' },
  strings: listOf('a list of strings', { expected: 'a string', test: (v) => typeof v === 'string' }),
  duration: {
    expected: 'a Duration (e.g. Duration.minutes(5))',
    test: (v) =>
      isObject(v) &&
      ['toMilliseconds', 'toHumanString', 'isUnresolved'].every((m) => typeof v[m] === 'function'),
  },
  secret: resource(
    'an ISecret (e.g. Secret.fromSecretNameV2(scope, id, name))',
    ['secretArn'],
    ['grantRead'],
  ),
  table: resource('an ITable (e.g. Table.fromTableName(scope, id, name))', ['tableName', 'tableArn']),
  eventBus: resource(
    'an IEventBus (e.g. EventBus.fromEventBusName(scope, id, name))',
    ['eventBusName', 'eventBusArn'],
    ['grantPutEventsTo'],
  ),
  queue: resource('an IQueue (e.g. Queue.fromQueueArn(scope, id, arn))', ['queueArn', 'queueUrl']),
  topic: resource('an ITopic (e.g. Topic.fromTopicArn(scope, id, arn))', ['topicArn']),
  certificate: resource('an ICertificate (e.g. Certificate.fromCertificateArn(scope, id, arn))', [
    'certificateArn',
  ]),
  bucket: resource(
    'an IBucket (e.g. Bucket.fromBucketName(scope, id, name))',
    ['bucketName', 'bucketArn'],
    ['arnForObjects'],
  ),
  ruleTarget: {
    expected: 'an IRuleTarget (e.g. new targets.LambdaFunction(fn))',
    test: (v) => isObject(v) && typeof v.bind === 'function',
  },
  webhooks: resource('a TogetherWebhooks construct', ['claimScope'], ['onEvent']),
  signatureScheme: {
    expected: 'a SignatureScheme (SignatureScheme.togetherHmac() or SignatureScheme.standardWebhooks())',
    test: (v) => isObject(v) && (SIGNATURE_SCHEMES as readonly unknown[]).includes(v.name),
  },
  removalPolicy: {
    expected: 'a RemovalPolicy (e.g. RemovalPolicy.RETAIN)',
    test: (v) => removalPolicies.includes(v),
  },
  logRetention: {
    expected: 'a RetentionDays (e.g. RetentionDays.ONE_MONTH)',
    test: (v) => typeof v === 'number' && (Token.isUnresolved(v) || retentionDays.includes(v)),
  },
} satisfies Record<string, Kind>;

/** An object of props: `name` in messages (the interface's name), each prop checked by `shape`. */
export function struct<T>(name: string, shape: Shape<T>): Kind {
  return {
    expected: `an object (${name})`,
    test: isObject,
    parts: (owner, path, value) => checkShape(owner, path, value as Loose, shape),
  };
}

/** A list, each element of kind `element` (`name[0]`, `name[1]`, ...). */
export function listOf(expected: string, element: Kind): Kind {
  return {
    expected,
    test: Array.isArray,
    parts: (owner, path, value) =>
      (value as unknown[]).forEach((v, i) => checkKind(owner, `${path}[${i}]`, v, element)),
  };
}

/** An object whose every value is of kind `element` (`name["key"]`). */
export function mapOf(expected: string, element: Kind): Kind {
  return {
    expected,
    test: isObject,
    parts: (owner, path, value) =>
      Object.entries(value as Loose).forEach(([k, v]) =>
        checkKind(owner, `${path}[${JSON.stringify(k)}]`, v, element),
      ),
  };
}

/** Refuses `value` unless it is of `kind` (and so are its parts). */
export function checkKind(owner: string, name: string, value: unknown, kind: KindBase): void {
  if (!kind.test(value)) throw new Error(`${owner}: ${name} must be ${kind.expected}, got ${shown(value)}`);
  kind.parts?.(owner, name, value);
}

/** A construct's props: an object, each prop of the kind `shape` says. */
export function checkProps<T>(owner: string, props: unknown, name: string, shape: Shape<T>): void {
  if (props === undefined) {
    throw new Error(`${owner}: props is required: an object (${name}), got undefined`);
  }
  checkKind(owner, 'props', props, { expected: `an object (${name})`, test: isObject });
  checkShape(owner, '', props as Loose, shape);
}

/** Same letters, case, `_` and `-` aside: `api_key` for `apiKey`. */
const spelling = (key: string) => key.toLowerCase().replace(/[_-]/g, '');

function checkShape<T>(owner: string, path: string, value: Loose, shape: Shape<T>): void {
  for (const [key, kind] of Object.entries(shape) as Array<[string, Kind | RequiredKind]>) {
    const name = path ? `${path}.${key}` : key;
    const v = value[key];
    if (v === undefined || (v === null && kind.required)) {
      const misspelt = Object.keys(value).find((k) => k !== key && spelling(k) === spelling(key));
      const hint = misspelt
        ? ` (${path || 'props'} has ${JSON.stringify(misspelt)}: the property is ${key})`
        : '';
      if (kind.required)
        throw new Error(`${owner}: ${name} is required: ${kind.expected}, got ${shown(v)}${hint}`);
      if (misspelt) throw new Error(`${owner}: ${name} is not set${hint}`);
    } else if (v === null) {
      // Not setting a prop is leaving it out (jsii's languages do): the code after the checks reads `undefined`.
      throw new Error(`${owner}: ${name} must be ${kind.expected} or left out, got null`);
    } else {
      checkKind(owner, name, v, kind);
    }
  }
}

// The value received, shown short.

const MAX_SHOWN = 60;

function clip(text: string): string {
  return text.length <= MAX_SHOWN ? text : `${text.slice(0, MAX_SHOWN - 3)}...`;
}

/** `value` as a message shows it: strings quoted, objects by their class and construct path, at most ~60 chars. */
export function shown(value: unknown): string {
  if (Array.isArray(value)) return clip(`[${value.slice(0, 10).map(shallow).join(', ')}]`);
  if (isObject(value) && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value).slice(0, 10);
    return entries.length === 0
      ? '{}'
      : clip(`{ ${entries.map(([k, v]) => `${k}: ${shallow(v)}`).join(', ')} }`);
  }
  return shallow(value);
}

/** jsii's runtime type information: the class's own name (bundling may rename `Function` to `Function2`). */
const JSII_RTTI = Symbol.for('jsii.rtti');

function className(ctor: unknown): string {
  if (typeof ctor !== 'function') return 'object';
  const fqn = (ctor as unknown as Record<symbol, { fqn?: unknown } | undefined>)[JSII_RTTI]?.fqn;
  return typeof fqn === 'string' ? fqn.slice(fqn.lastIndexOf('.') + 1) : ctor.name || 'object';
}

/** One value without its contents. */
function shallow(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 50 ? `${value.slice(0, 50)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value !== 'object' || value === null) return String(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : '[...]';
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return Object.keys(value).length === 0 ? '{}' : '{...}';
  const cls = className(proto.constructor);
  const a = /^[aeiou]/i.test(cls) ? 'an' : 'a';
  const v = value as Loose;
  const path = isObject(v.node) && typeof v.node.path === 'string' ? ` at ${v.node.path || '(the app)'}` : '';
  const human = KIND.duration.test(value) ? ` (${(value as Duration).toHumanString()})` : '';
  return `${a} ${cls}${path}${human}`;
}

// The options `TogetherWebhooks` hands on to its poller and its registration, checked by both constructs: inside
// `TogetherWebhooks`, as `poller.interval`, `registration.events`, ...

/** `key` under `path`. */
const at = (path: string, key: string) => (path ? `${path}.${key}` : key);

export const POLLER_OPTIONS: Shape<PollerOptions> = {
  apiKey: required(KIND.secret),
  apiKeyJsonField: KIND.string,
  interval: KIND.duration,
  watchModels: KIND.strings,
  modelDeprecations: mapOf(
    'an object of ModelDeprecationInfo by model id',
    struct<ModelDeprecationInfo>('ModelDeprecationInfo', {
      replacementModel: KIND.string,
      sunsetDate: KIND.string,
    }),
  ),
  modelMissingFor: KIND.duration,
  evaluations: KIND.boolean,
  endpoints: KIND.boolean,
  jobs: KIND.boolean,
  deployments: KIND.boolean,
  clusters: KIND.boolean,
  rlSessions: KIND.boolean,
  tracking: KIND.boolean,
  trackingExpiry: KIND.duration,
  stallAfter: KIND.duration,
  initialLookback: KIND.duration,
  apiBaseUrl: KIND.string,
  memorySize: KIND.number,
  fastFollow: KIND.duration,
  fastFollowRequestsPerMinute: KIND.number,
};

/** The values of `PollerOptions` whose kinds `POLLER_OPTIONS` checked. */
export function checkPollerOptions(owner: string, path: string, options: PollerOptions): void {
  const interval = options.interval;
  if (interval && !interval.isUnresolved()) {
    const minutes = interval.toSeconds() / 60;
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
      throw new Error(
        `${owner}: ${at(path, 'interval')} must be whole minutes from 1 to 1440, got ${interval.toHumanString()}`,
      );
    }
  }
  const stall = options.stallAfter;
  if (stall && !stall.isUnresolved() && stall.toMinutes({ integral: false }) < 10) {
    throw new Error(
      `${owner}: ${at(path, 'stallAfter')} must be at least 10 minutes, got ${stall.toHumanString()}`,
    );
  }
  const missing = options.modelMissingFor;
  if (missing && !missing.isUnresolved() && missing.toSeconds() < 60) {
    throw new Error(
      `${owner}: ${at(path, 'modelMissingFor')} must be at least 1 minute, got ${missing.toHumanString()}`,
    );
  }
  const watched = options.watchModels ?? [];
  for (const model of watched) {
    if (!Token.isUnresolved(model) && model.trim() === '') {
      throw new Error(`${owner}: ${at(path, 'watchModels')} must hold model ids, got ${shown(model)}`);
    }
  }
  for (const model of Object.keys(options.modelDeprecations ?? {})) {
    if (!watched.includes(model)) {
      throw new Error(
        `${owner}: ${at(path, 'modelDeprecations')} names ${JSON.stringify(model)}, which is not in watchModels`,
      );
    }
  }
  const expiry = options.trackingExpiry;
  if (expiry && !expiry.isUnresolved()) {
    const minutes = expiry.toSeconds() / 60;
    if (!Number.isInteger(minutes) || minutes < 10 || minutes > 30 * 1440) {
      throw new Error(
        `${owner}: ${at(path, 'trackingExpiry')} must be whole minutes from 10 minutes to 30 days, got ${expiry.toHumanString()}`,
      );
    }
  }
  const memory = options.memorySize;
  if (memory !== undefined && !Token.isUnresolved(memory)) {
    if (!Number.isInteger(memory) || memory < 256 || memory > 10240) {
      throw new Error(
        `${owner}: ${at(path, 'memorySize')} must be a whole number of MB from 256 to 10240, got ${shown(memory)}`,
      );
    }
  }
  checkHttpsUrl(owner, at(path, 'apiBaseUrl'), options.apiBaseUrl);
  checkFastFollow(owner, path, options);
}

/** Fast follow: re-checks at least 10 s apart and more often than the ticks, which must be 10 minutes apart at most. */
function checkFastFollow(owner: string, path: string, options: PollerOptions): void {
  const every = options.fastFollow;
  const perMinute = options.fastFollowRequestsPerMinute;
  if (every === undefined) {
    if (perMinute !== undefined) {
      throw new Error(
        `${owner}: ${at(path, 'fastFollowRequestsPerMinute')} is read only with fastFollow, got ${shown(perMinute)} without it`,
      );
    }
    return;
  }
  checkNumber(owner, at(path, 'fastFollowRequestsPerMinute'), perMinute, 1, 10_000, true);
  const interval = options.interval ?? Duration.minutes(1);
  if (every.isUnresolved() || interval.isUnresolved()) return;
  const ms = every.toMilliseconds();
  if (ms % 1000 !== 0 || ms < 10_000 || ms >= interval.toMilliseconds()) {
    throw new Error(
      `${owner}: ${at(path, 'fastFollow')} must be whole seconds, at least 10 seconds and less than the interval ` +
        `(${interval.toHumanString()}), got ${every.toHumanString()}`,
    );
  }
  if (interval.toMinutes({ integral: false }) > 10) {
    throw new Error(
      `${owner}: ${at(path, 'fastFollow')} needs an interval of at most 10 minutes (one invocation re-checks until ` +
        `the next tick), got ${interval.toHumanString()}`,
    );
  }
}

export const REGISTRATION_OPTIONS: Shape<RegistrationOptions> = {
  apiKey: required(KIND.secret),
  apiKeyJsonField: KIND.string,
  events: KIND.strings,
  apiBaseUrl: KIND.string,
  required: KIND.boolean,
  secretVersion: KIND.string,
};

/** The values of `RegistrationOptions` whose kinds `REGISTRATION_OPTIONS` checked. */
export function checkRegistrationOptions(owner: string, path: string, options: RegistrationOptions): void {
  const events = options.events;
  if (events?.length === 0) throw new Error(`${owner}: ${at(path, 'events')} must not be empty, got []`);
  // `in events` as the registration on its own says it, then where it is inside TogetherWebhooks.
  const where = path ? `events (${at(path, 'events')})` : 'events';
  for (const type of events ?? []) checkEventType(owner, where, type);
  checkHttpsUrl(owner, at(path, 'apiBaseUrl'), options.apiBaseUrl);
  const version = options.secretVersion;
  if (version !== undefined && !Token.isUnresolved(version) && version === '') {
    throw new Error(`${owner}: ${at(path, 'secretVersion')} must not be empty, got ""`);
  }
}
