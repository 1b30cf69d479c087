import { randomUUID } from 'node:crypto';
import { EVENT_TYPES, isCatalogueType, sampleEvent } from '../../lib/events';
import { DEFAULTS } from '../../lib/contract';
import { HttpTimeoutError, sendHttp } from '../../lambda/shared/http';
import {
  SCHEMES,
  SchemeName,
  signatureHeaders,
  verifySignature,
  secretToKey,
} from '../../lambda/verifier/signature';
import { checkUrl, flag, ParsedArgs, positiveInt, required, UsageError } from './args';
import { Io } from './io';

/** `sign`, `verify` and `send`: what a sender does, done with the verifier's own code. */

export function scheme(args: ParsedArgs): SchemeName {
  const name = flag(args, 'scheme') ?? DEFAULTS.signatureScheme;
  if (!(SCHEMES as readonly string[]).includes(name))
    throw new UsageError(`--scheme must be ${SCHEMES.join(' or ')}, got "${name}"`);
  return name as SchemeName;
}

function secret(args: ParsedArgs, io: Io): string {
  const value = flag(args, 'secret') ?? io.env.TOGETHER_WEBHOOK_SECRET;
  if (!value)
    throw new UsageError(
      '--secret is required (or TOGETHER_WEBHOOK_SECRET): the signing secret, as `npm start` prints it or as ' +
        "stored in the stack's secret (aws secretsmanager get-secret-value)",
    );
  return value;
}

function keyFor(name: SchemeName, value: string): Buffer {
  try {
    return secretToKey(name, value);
  } catch (err) {
    throw new UsageError(`--secret: ${(err as Error).message}`);
  }
}

export async function sign(args: ParsedArgs, io: Io): Promise<number> {
  const name = scheme(args);
  const key = secret(args, io);
  keyFor(name, key);
  const body = await io.readBody(args.positionals[0]);
  const headers = signatureHeaders(name, key, body, {
    id: flag(args, 'id') ?? `msg_${randomUUID()}`,
    timestampSeconds: Number(flag(args, 'timestamp') ?? Math.floor(Date.now() / 1000)),
  });
  for (const [header, value] of Object.entries(headers)) io.out(`${header}: ${value}`);
  return 0;
}

export async function verify(args: ParsedArgs, io: Io): Promise<number> {
  const name = scheme(args);
  const keys = [keyFor(name, secret(args, io))];
  const signature = required(args, 'signature', 'the signature header to check');
  const headers =
    name === 'together-hmac'
      ? { 'x-together-signature': signature }
      : {
          'webhook-signature': signature,
          'webhook-id': required(args, 'id', 'the webhook-id header (standard-webhooks)'),
          'webhook-timestamp': required(
            args,
            'timestamp',
            'the webhook-timestamp header (standard-webhooks)',
          ),
        };
  const body = await io.readBody(args.positionals[0]);
  const check = verifySignature(name, headers, body, keys, Date.now());
  if (check.ok) {
    io.out('valid');
    return 0;
  }
  io.out(`invalid: ${check.reason}`);
  return 1;
}

/** `--data key=value`: JSON when it parses (numbers, null, true), else the text. */
function dataOverrides(values: readonly string[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const pair of values) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--data must be key=value, got "${pair}"`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // plain text
    }
    data[pair.slice(0, eq)] = value;
  }
  return data;
}

export async function send(args: ParsedArgs, io: Io): Promise<number> {
  const type = args.positionals[0];
  if (!type) throw new UsageError(`which event type? one of: ${EVENT_TYPES.join(', ')}`);
  if (!isCatalogueType(type))
    throw new UsageError(`unknown event type "${type}"; one of: ${EVENT_TYPES.join(', ')}`);
  const url = checkUrl(
    required(args, 'url', 'where to POST, e.g. http://127.0.0.1:8787/webhooks/together'),
    '--url',
  );
  const name = scheme(args);
  const key = secret(args, io);
  keyFor(name, key);
  const repeat = positiveInt(args, 'repeat', 1, 1000);
  const id = flag(args, 'id') ?? `evt_${randomUUID()}`;
  const sample = sampleEvent(type, id);
  const body = JSON.stringify({
    ...sample,
    // Now: a receiver refuses an envelope created before its dedupe retention as a possible replay.
    created_at: new Date().toISOString(),
    data: { ...sample.data, ...dataOverrides(args.flags.get('data') ?? []) },
  });
  let failures = 0;
  for (let i = 0; i < repeat; i++) {
    const headers = signatureHeaders(name, key, body, {
      id,
      timestampSeconds: Math.floor(Date.now() / 1000),
    });
    try {
      const res = await sendHttp({
        url: url.toString(),
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        connectTimeoutMs: 5_000,
        timeoutMs: 30_000,
        maxResponseBytes: 1024 * 1024,
      });
      if (res.status < 200 || res.status >= 300) failures++;
      io.out(`${res.status} ${res.text}`);
    } catch (err) {
      const why =
        err instanceof HttpTimeoutError
          ? err.message
          : `${(err as { code?: string }).code ?? (err as Error).message}`;
      // Not a usage error (exit 1); main prints it with the command's prefix, as every other error.
      throw new Error(
        `could not reach ${url}: ${why}. Is the receiver running (npm start), and is --url right?`,
        { cause: err },
      );
    }
  }
  return failures === 0 ? 0 : 1;
}
