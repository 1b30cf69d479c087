/** A small argv reader: positionals, `--name value`, `--name=value`, repeatable flags, boolean switches. */

export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  readonly positionals: string[];
  /** Every value given for each flag, in order. */
  readonly flags: Map<string, string[]>;
}

export interface ArgSpec {
  /** Flags that take a value. */
  readonly values: readonly string[];
  /** Flags that take none. */
  readonly switches?: readonly string[];
}

export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (name: string, value: string) => flags.set(name, [...(flags.get(name) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    if (arg === '-h') {
      add('help', 'true');
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!arg.startsWith('--') || name === '') throw new UsageError(`unknown option ${arg}`);
    if (name === 'help' || spec.switches?.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      add(name, 'true');
    } else if (spec.values.includes(name)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      add(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positionals, flags };
}

export function flag(args: ParsedArgs, name: string): string | undefined {
  return args.flags.get(name)?.at(-1);
}

export function required(args: ParsedArgs, name: string, why: string): string {
  const value = flag(args, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required: ${why}`);
  return value;
}

export function positiveInt(args: ParsedArgs, name: string, fallback: number, max: number): number {
  const raw = flag(args, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got "${raw}"`);
  return n;
}

/** http:// only to this machine: anything else travels with a signature or an API key, so https. */
export function checkUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${what} is not a URL: "${raw}"`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url;
  throw new UsageError(`${what} must be https (http only for 127.0.0.1 or localhost), got "${raw}"`);
}
