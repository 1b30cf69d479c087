import { createHash } from 'node:crypto';
import type { RetryRuleSpec } from '../../lib/contract';
import { isObject } from '../shared/guards';
import { Secret } from '../shared/together-api';

/**
 * The pure half of the fine-tune retry: what a failed job was (GET /fine-tunes/{id}), which rule its last error
 * matches, and the POST /fine-tunes body of its retry. Only fields the request schema describes are copied, each
 * checked for its type; the secrets among them (W&B, Hugging Face) go into the body and nowhere else.
 */

/** Together's suffix limit (its CLI and SDK refuse more than 40 characters). */
export const MAX_SUFFIX = 40;

const STRINGS = [
  'training_file',
  'validation_file',
  'model',
  'wandb_project_name',
  'wandb_name',
  'wandb_base_url',
  'wandb_entity',
  'from_checkpoint',
  'from_hf_model',
  'hf_model_revision',
  'hf_output_repo_name',
];
/** Copied into the body only; their values are redacted from anything made from an answer. */
const SECRETS = ['wandb_api_key', 'hf_api_token'];
const INTEGERS = ['n_epochs', 'n_checkpoints', 'n_evals', 'max_seq_length', 'random_seed'];
const NUMBERS = ['learning_rate', 'warmup_ratio', 'max_grad_norm', 'weight_decay'];
const OBJECTS = ['lr_scheduler', 'training_method', 'training_type'];

export interface FailedJob {
  readonly id: string;
  readonly model: string;
  readonly trainingFile: string;
  /** Its suffix, if the answer shows it (FinetuneResponse does not describe one; the listing does). */
  readonly suffix?: string;
  readonly batchSize: number | 'max' | undefined;
  /** Its last error event's message, else what the event said. */
  readonly lastError: string;
  /** What the retry sends, before the rule's adjustment and the tag. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly secrets: readonly Secret[];
}

/** `-r<attempt>-<10 hex of the failed id>` at the end of a suffix: a retry this recipe made. */
const TAG = /(?:^|-)r(\d{1,3})-([0-9a-f]{10})$/;

/** Reads GET /fine-tunes/{id}'s answer; an answer with no model or training file cannot be retried. */
export function readFailedJob(json: unknown, id: string, eventError: string): FailedJob {
  if (!isObject(json)) throw new Error(`GET /fine-tunes/${id} answered no fine-tune`);
  const body: Record<string, unknown> = {};
  const secrets: Secret[] = [];
  for (const k of [...STRINGS, ...SECRETS])
    if (typeof json[k] === 'string' && json[k] !== '') body[k] = json[k];
  for (const k of SECRETS)
    if (typeof body[k] === 'string') secrets.push({ value: body[k] as string, label: `[${k}]` });
  for (const k of INTEGERS) if (Number.isInteger(json[k])) body[k] = json[k];
  for (const k of NUMBERS) if (typeof json[k] === 'number' && Number.isFinite(json[k])) body[k] = json[k];
  for (const k of OBJECTS) if (isObject(json[k])) body[k] = json[k];
  if (typeof json.packing === 'boolean') body.packing = json.packing;
  const batch = json.batch_size;
  const batchSize =
    Number.isInteger(batch) && (batch as number) > 0
      ? (batch as number)
      : batch === 'max'
        ? 'max'
        : undefined;
  if (batchSize !== undefined) body.batch_size = batchSize;
  if (typeof body.model !== 'string' || typeof body.training_file !== 'string')
    throw new Error(`fine-tune ${id} has no model or training_file to retry with`);
  return {
    id,
    model: body.model,
    trainingFile: body.training_file,
    ...(typeof json.suffix === 'string' ? { suffix: json.suffix } : {}),
    batchSize,
    lastError: lastErrorOf(json.events) ?? eventError,
    body,
    secrets,
  };
}

/** The message of the job's last error event (type job_error or level error). */
function lastErrorOf(events: unknown): string | undefined {
  if (!Array.isArray(events)) return undefined;
  for (let i = events.length - 1; i >= 0; i--) {
    const e: unknown = events[i];
    if (
      isObject(e) &&
      (e.type === 'job_error' || e.level === 'error') &&
      typeof e.message === 'string' &&
      e.message
    )
      return e.message;
  }
  return undefined;
}

/** A suffix split into what the user asked for and the attempt in a retry tag of ours (0: none). */
export function suffixParts(suffix: string): { readonly base: string; readonly taggedAttempt: number } {
  const tag = TAG.exec(suffix);
  return tag
    ? { base: suffix.slice(0, tag.index), taggedAttempt: Number(tag[1]) }
    : { base: suffix, taggedAttempt: 0 };
}

/** The first rule whose text the error contains, case aside. */
export function matchRule(rules: readonly RetryRuleSpec[], error: string): RetryRuleSpec | undefined {
  const text = error.toLowerCase();
  return rules.find((r) => text.includes(r.match.toLowerCase()));
}

/** Names the retry made for one failed job, in its suffix: what the listing is searched for. */
export function retryTag(failedId: string, attempt: number): string {
  return `r${attempt}-${createHash('sha256').update(failedId).digest('hex').slice(0, 10)}`;
}

/** The user's suffix, cut to leave room, then the tag: at most `MAX_SUFFIX` characters. */
export function taggedSuffix(baseSuffix: string, tag: string): string {
  const room = MAX_SUFFIX - tag.length - 1;
  const base = baseSuffix.slice(0, room).replace(/-+$/, '');
  return base ? `${base}-${tag}` : tag;
}

export type Adjusted =
  { readonly body: Record<string, unknown>; readonly adjustment: string } | { readonly refused: string };

/** The rule's change to the body, or why it cannot make one. */
export function adjust(job: FailedJob, rule: RetryRuleSpec): Adjusted {
  if (rule.action === 'same_parameters') return { body: { ...job.body }, adjustment: 'same parameters' };
  if (rule.action !== 'halve_batch_size') return { refused: 'the rule says not to retry' };
  const size = job.batchSize;
  if (typeof size !== 'number')
    return {
      refused: `its batch_size is ${size === undefined ? 'unknown' : '"max"'}, which cannot be halved; set one on the job`,
    };
  if (size <= 1) return { refused: 'its batch_size is already 1' };
  const halved = Math.max(1, Math.floor(size / 2));
  return { body: { ...job.body, batch_size: halved }, adjustment: `batch_size ${size} -> ${halved}` };
}
