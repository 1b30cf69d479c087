import { AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { outcomeClaimId } from '../../lib/claim-keys';
import { DELIVERY_KEY_PREFIX, EVENT_TYPES, eventSpec, isCatalogueType } from '../../lib/events';
import { realClock } from '../../lambda/shared/together-api';
import { ParsedArgs, UsageError } from './args';
import { awsError, awsOptions, realAws } from './aws';
import { Io } from './io';
import { busRules, rulesOfType } from './rules';
import { findResources, need, Resources } from './stack';
import { ago, iso } from './times';

/**
 * `trace`: what happened to one outcome. Its claim in the dedupe table (GetItem on `o#<scope>#<outcome key>`), the
 * rules on the bus that take its type, and the dead-letter queue. A job id names several outcomes; those whose key
 * is the id alone (`fine_tune.completed:<id>`, `batch.done:<id>`, ...) are looked up, one GetItem each; keys with a
 * step or a time in them (checkpoints, stalls, transitions) need the outcome key itself.
 */

/** The types whose outcome key is one field, the job's id: what a job id alone can name. */
const BY_ID = EVENT_TYPES.filter((t) => eventSpec(t).outcomeKey.length === 1);
const PEEK_ROUNDS = 5;

interface Claim {
  readonly key: string;
  readonly item: Record<string, AttributeValue>;
}

export async function trace(args: ParsedArgs, io: Io): Promise<number> {
  const [what, ...extra] = args.positionals;
  if (!what) throw new UsageError('needs an outcome key (fine_tune.completed:ft-123) or a job id (ft-123)');
  if (extra.length > 0) throw new UsageError(`takes one outcome key or job id, got also "${extra[0]}"`);
  const nowMs = (io.clock ?? realClock).now();
  const aws = (io.aws ?? realAws)(awsOptions(args));
  const res = await findResources(args, aws.cloudFormation);
  const table = need(res, 'tableName', 'table');
  const scope = need(res, 'claimScope', 'scope');
  const keys = candidateKeys(what);
  const claims = await readClaims(aws.dynamodb, table, scope, keys);
  const lines = [`trace ${what}  (table ${table}, claims o#${scope}#...)`];
  if (claims.length === 0) {
    lines.push(
      `  no claim: not published by this construct (or past its retention), looked at ${keys.length} key(s):`,
    );
    lines.push(`    ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}`);
    if (keys.length > 1)
      lines.push(
        '  a checkpoint, stall or transition has a step or time in its key: trace <type>:<id>:<step|since>',
      );
  }
  for (const claim of claims) lines.push(...describeClaim(claim, res, nowMs));
  // A job id with no claim names no type: listing the rules of every type it could be would fill the screen.
  const types = claims.length ? claims.map((c) => typeOf(c.key)) : keys.length === 1 ? typesOf(keys) : [];
  lines.push(...(await routing(aws, res, types)));
  lines.push(
    ...(await deadLetters(
      aws.sqs,
      res.dlqUrl,
      claims.map((c) => c.key),
      args.flags.has('peek'),
    )),
  );
  io.out(lines.join('\n'));
  return 0;
}

/** An outcome key as given, or every single-field key a job id can be. */
function candidateKeys(what: string): string[] {
  const colon = what.indexOf(':');
  const head = colon > 0 ? what.slice(0, colon) : '';
  if (isCatalogueType(head) || `${head}:` === DELIVERY_KEY_PREFIX) return [what];
  return BY_ID.map((type) => `${type}:${what}`);
}

function typeOf(key: string): string {
  return key.slice(0, key.indexOf(':'));
}

function typesOf(keys: readonly string[]): string[] {
  return keys.map(typeOf).filter(isCatalogueType);
}

async function readClaims(
  ddb: DynamoDBClient,
  table: string,
  scope: string,
  keys: string[],
): Promise<Claim[]> {
  try {
    const got = await Promise.all(
      keys.map(async (key) => {
        const out = await ddb.send(
          new GetItemCommand({
            TableName: table,
            Key: { id: { S: outcomeClaimId(scope, key) } },
            ConsistentRead: true,
          }),
        );
        return out.Item ? [{ key, item: out.Item }] : [];
      }),
    );
    return got.flat();
  } catch (err) {
    throw new Error(`table ${table}: ${awsError(err)}`, { cause: err });
  }
}

/** Who claimed it, when, and in what state (lambda/shared/idempotency.ts: the item's fields). */
function describeClaim({ key, item }: Claim, res: Resources, nowMs: number): string[] {
  const status = item.status?.S ?? 'UNKNOWN';
  const delivery = item.delivery_id?.S;
  const type = typeOf(key);
  const by = !isCatalogueType(type)
    ? 'a webhook'
    : eventSpec(type).producer && eventSpec(type).producer !== 'poller'
      ? `the ${eventSpec(type).producer} recipe`
      : delivery === key
        ? 'the poller'
        : 'the webhook (verifier)';
  const expiration = Number(item.expiration?.N);
  // Claim and completion both set expiration = then + retention: minus the retention is when it last changed.
  const at = res.retentionDays && expiration ? expiration * 1000 - res.retentionDays * 86_400_000 : undefined;
  const lines = [
    `  ${key}`,
    `    claim    ${status}, by ${by}${delivery && delivery !== key ? `, delivery ${delivery}` : ''}`,
  ];
  if (at !== undefined)
    lines.push(`    at       ${iso(at)} (${ago(at, nowMs)}), remembered until ${iso(expiration * 1000)}`);
  else if (expiration) lines.push(`    kept     until ${iso(expiration * 1000)}`);
  if (status === 'COMPLETED') lines.push(`    bus      ${published(item, nowMs)}`);
  else {
    const expiry = Number(item.in_progress_expiry?.N);
    lines.push(
      `    bus      not confirmed: publishing${expiry ? `, the claim lapses ${iso(expiry)} (${ago(expiry, nowMs)})` : ''}`,
    );
  }
  return lines;
}

/** The completed claim's record of the publish: EventBridge's event id and when (claims of earlier releases lack it). */
function published(item: Record<string, AttributeValue>, nowMs: number): string {
  const at = Number(item.published_at?.N);
  const eventId = item.event_id?.S;
  if (!at && !eventId)
    return 'published (the claim completes only once PutEvents took it); no event id recorded (an older claim)';
  const when = at ? ` at ${iso(at)} (${ago(at, nowMs)})` : '';
  return `published${when}${eventId ? `, event id ${eventId}` : ''}`;
}

async function routing(
  aws: { eventBridge: EventBridgeClient },
  res: Resources,
  types: readonly string[],
): Promise<string[]> {
  const unique = [...new Set(types)].filter(isCatalogueType);
  if (!res.busName) return ['  rules    not looked up: give --stack or --bus'];
  if (unique.length === 0) return [];
  let rules;
  try {
    rules = await busRules(aws.eventBridge, res.busName);
  } catch (err) {
    return [`  rules    bus ${res.busName}: ${awsError(err)}`];
  }
  return unique.map((type) => {
    const matching = rulesOfType(rules, type);
    const names = matching.map(
      (r) =>
        `${r.name}${r.alert ? ' (alert)' : ''}${r.detailFilter ? ' (if its detail matches)' : ''}` +
        `${r.understood ? '' : ' (pattern not understood)'}${r.enabled ? '' : ' (disabled)'}`,
    );
    if (names.length === 0) return `  rules    ${type}: none: no target receives it`;
    const tail = matching.some((r) => r.enabled) ? '' : '; none enabled: no target receives it';
    return `  rules    ${type}: ${names.join(', ')}${tail}`;
  });
}

/**
 * The queue's depth; with --peek, up to 50 messages read with a visibility timeout of 0, so they stay visible to
 * everyone else (each receive still counts in their receive count).
 */
async function deadLetters(
  sqs: SQSClient,
  url: string | undefined,
  keys: string[],
  peek: boolean,
): Promise<string[]> {
  if (!url) return ['  dlq      not looked up: give --stack or --dlq-url'];
  try {
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const depth = Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0);
    const line = `  dlq      ${depth} message(s) waiting`;
    if (!peek || depth === 0 || keys.length === 0)
      return [`${line}${depth && !peek ? ' (whether this outcome is one of them: --peek)' : ''}`];
    return [line, await peekFor(sqs, url, keys)];
  } catch (err) {
    return [`  dlq      ${awsError(err)}`];
  }
}

async function peekFor(sqs: SQSClient, url: string, keys: string[]): Promise<string> {
  const seen = new Set<string>();
  for (let round = 0; round < PEEK_ROUNDS; round++) {
    const got = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    for (const m of got.Messages ?? []) {
      if (!m.MessageId || seen.has(m.MessageId)) continue;
      seen.add(m.MessageId);
      const key = outcomeKeyOf(m.Body);
      if (key && keys.includes(key)) {
        const rule = m.MessageAttributes?.RULE_ARN?.StringValue ?? 'a rule';
        const code = m.MessageAttributes?.ERROR_CODE?.StringValue ?? 'an error';
        return `           this outcome is in it: ${rule.slice(rule.lastIndexOf('/') + 1)} failed with ${code}`;
      }
    }
  }
  return `           not among the ${seen.size} message(s) read (read with visibility 0: they stay in the queue)`;
}

function outcomeKeyOf(body: string | undefined): string | undefined {
  try {
    const key = (JSON.parse(body ?? '') as { detail?: { outcome_key?: unknown } }).detail?.outcome_key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}
