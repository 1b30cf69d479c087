import {
  CLAIM_SCOPE_PATTERN,
  DEFAULT_METRICS_NAMESPACE,
  DEFAULT_TOGETHER_API_BASE_URL,
  DEFAULTS,
  LambdaRuntimeEnvironment,
} from '../../lib/contract';
import { checkApiBaseUrl } from './api-base-url';

/** A process's environment, as a handler's adapter passes it to its `config.ts`. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A variable the construct writes for this handler, or one Lambda sets for every function. */
type Name<E> = keyof (E & LambdaRuntimeEnvironment) & string;

/**
 * Reads one handler's environment, typed by its interface in lib/contract.ts, so only names the construct writes
 * can be asked for. Every reader treats an empty value as absent and refuses a malformed one with an error that
 * names the variable and shows what it holds (cut to 100 characters): a misconfigured function fails at its first
 * invocation, loudly, instead of running with 0 or NaN.
 */
export class EnvReader<E extends object> {
  constructor(private readonly env: Environment) {}

  /** The value, or undefined when absent or empty. */
  optional(name: Name<E>): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  /** The value as written, where an empty one means something (a key prefix at the bucket's root). */
  verbatim(name: Name<E>): string | undefined {
    return this.env[name];
  }

  required(name: Name<E>): string {
    const value = this.optional(name);
    if (value === undefined) throw new Error(`environment variable ${name} is required`);
    return value;
  }

  /** A finite number at least `min` (default 0), whole when asked; `fallback` when absent. */
  number(
    name: Name<E>,
    fallback: number | undefined,
    options: { min?: number; positive?: boolean; integer?: boolean; unit?: string } = {},
  ): number {
    const raw = this.optional(name);
    if (raw === undefined) {
      if (fallback === undefined) throw new Error(`environment variable ${name} is required`);
      return fallback;
    }
    const value = Number(raw);
    const min = options.min ?? 0;
    const ok =
      Number.isFinite(value) &&
      value >= min &&
      (!options.positive || value > 0) &&
      (!options.integer || Number.isInteger(value));
    if (!ok) {
      const what = `${options.positive ? 'a positive' : 'a'}${options.integer ? ' whole' : ''} number`;
      // The bound, when it is what the value missed: "MAX_REPLICAS must be a whole number of replicas (at least 1)".
      const least = !options.positive && Number.isFinite(value) && value < min ? ` (at least ${min})` : '';
      const unit = options.unit ? ` of ${options.unit}` : '';
      throw new Error(`${name} must be ${what}${unit}${least}, got "${cut(raw)}"`);
    }
    return value;
  }

  /** An optional number: undefined when absent, refused when malformed. */
  optionalNumber(
    name: Name<E>,
    options: { min?: number; positive?: boolean; integer?: boolean; unit?: string } = {},
  ): number | undefined {
    return this.optional(name) === undefined ? undefined : this.number(name, undefined, options);
  }

  /** A number of minutes (0 or more), in ms. */
  minutesMs(name: Name<E>, fallbackMinutes: number): number {
    return this.number(name, fallbackMinutes, { unit: 'minutes' }) * 60_000;
  }

  /** `'true'` or `'false'`; `fallback` when absent. */
  flag(name: Name<E>, fallback = false): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new Error(`${name} must be "true" or "false", got "${cut(raw)}"`);
  }

  /** One of `choices`; `fallback` when absent. */
  oneOf<C extends string>(name: Name<E>, choices: readonly C[], fallback: C): C {
    const raw = this.optional(name) ?? fallback;
    if (!(choices as readonly string[]).includes(raw))
      throw new Error(`${name} must be one of ${choices.join(', ')}, got "${cut(raw)}"`);
    return raw as C;
  }

  /** JSON of the shape `check` accepts; `fallback` when absent (required when there is none). */
  json<T>(name: Name<E>, fallback: T | undefined, check: (value: unknown) => value is T): T {
    const raw = this.optional(name);
    if (raw === undefined) {
      if (fallback === undefined) throw new Error(`environment variable ${name} is required`);
      return fallback;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Error(`${name} must be JSON, got "${cut(raw)}"`);
    }
    if (!check(value)) throw new Error(`${name} has the wrong shape, got ${cut(raw)}`);
    return value;
  }

  /** A claim or state scope: part of every item key and of the IAM patterns that grant them. */
  scope(name: Name<E>): string {
    const raw = this.required(name);
    if (!CLAIM_SCOPE_PATTERN.test(raw))
      throw new Error(`${name} must be 1-100 letters, digits, '_', '.' or '-', got "${cut(raw)}"`);
    return raw;
  }

  /** The metrics' namespace: `METRICS_NAMESPACE`, else the library's. */
  metricsNamespace(this: EnvReader<{ METRICS_NAMESPACE?: string }>): string {
    return this.optional('METRICS_NAMESPACE') ?? DEFAULT_METRICS_NAMESPACE;
  }

  /** The metrics' `Service` dimension: `METRICS_SERVICE`, else the function's name, else `fallback`. */
  metricsService(this: EnvReader<{ METRICS_SERVICE?: string }>, fallback: string): string {
    return this.optional('METRICS_SERVICE') ?? this.optional('AWS_LAMBDA_FUNCTION_NAME') ?? fallback;
  }

  /** How long claims are kept: `RETENTION_DAYS` (positive, fractional allowed), in whole seconds. */
  retentionSeconds(this: EnvReader<{ RETENTION_DAYS?: string }>): number {
    return Math.round(
      this.number('RETENTION_DAYS', DEFAULTS.retentionDays, { positive: true, unit: 'days' }) * 86400,
    );
  }

  /** Together's API base URL: https, or http on loopback only. */
  apiBaseUrl(this: EnvReader<{ API_BASE_URL?: string }>): string {
    return checkApiBaseUrl('API_BASE_URL', this.optional('API_BASE_URL') ?? DEFAULT_TOGETHER_API_BASE_URL);
  }
}

function cut(raw: string): string {
  return raw.slice(0, 100);
}
