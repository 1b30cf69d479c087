/**
 * One fine-tuning sample against the JSONL formats Together documents, as `check-data` checks it. Sources:
 * - docs.together.ai/docs/fine-tuning/data-preparation: the four formats and their key fields (conversational
 *   `messages`, instruction `prompt`/`completion`, generic `text`, preference `input`/`preferred_output`/
 *   `non_preferred_output`); roles system, user, assistant; "must start with system or user and alternate user and
 *   assistant afterwards"; per-message `weight` 0 or 1; a file with two possible formats is rejected.
 * - docs.together.ai/docs/fine-tuning/function-calling: `tools` beside `messages` (inside `input` for preference),
 *   `tool_calls` on an assistant message in place of `content`, tool results as messages of role `tool`.
 * - docs.together.ai/docs/preference-fine-tuning: both outputs hold exactly one message, of role assistant.
 * - Together's own check (together-python src/together/utils/files.py, run by `together files upload`): one format
 *   a file, no field outside the format's, one role never twice in a row.
 */

export type DataFormat = 'conversational' | 'instruction' | 'generic' | 'preference';

const FIELDS: Record<
  DataFormat,
  { readonly required: readonly string[]; readonly optional: readonly string[] }
> = {
  conversational: { required: ['messages'], optional: ['tools'] },
  instruction: { required: ['prompt', 'completion'], optional: [] },
  generic: { required: ['text'], optional: [] },
  preference: { required: ['input', 'preferred_output', 'non_preferred_output'], optional: [] },
};
const FORMATS = Object.keys(FIELDS) as DataFormat[];
/** Each field to the format it belongs to: a line's format is found from its keys in one pass. */
const FORMAT_OF = new Map(
  FORMATS.flatMap((f) => [...FIELDS[f].required, ...FIELDS[f].optional].map((k) => [k, f] as const)),
);
const ROLES = ['system', 'user', 'assistant', 'tool'];
const PREVIEW_CHARS = 60;

export interface SampleCheck {
  /** The format its fields name, even with problems; undefined when they name none or two. */
  readonly format?: DataFormat;
  readonly problems: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (names: readonly string[]) =>
  names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
const REQUIRED = FORMATS.map((f) => list(FIELDS[f].required));
const EXPECTED = `${REQUIRED.slice(0, -1).join(', ')}, or ${REQUIRED[REQUIRED.length - 1]}`;

/** The value received, short: a string cut at 60 characters, a container by its size, never a whole sample. */
export function preview(value: unknown): string {
  if (typeof value === 'string')
    return value.length <= PREVIEW_CHARS
      ? JSON.stringify(value)
      : `${JSON.stringify(value.slice(0, PREVIEW_CHARS)).slice(0, -1)}..." (${value.length} characters)`;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (isObject(value)) {
    const keys = Object.keys(value);
    return keys.length === 0
      ? 'an empty object'
      : `an object with ${list(keys.slice(0, 5).map((k) => preview(k)))}`;
  }
  return String(value);
}

/** One parsed line. */
export function checkSample(value: unknown): SampleCheck {
  if (!isObject(value))
    return { problems: [`must be a JSON object (one sample a line); got ${preview(value)}`] };
  const keys = Object.keys(value);
  const named: DataFormat[] = [];
  for (const k of keys) {
    const f = FORMAT_OF.get(k);
    if (f !== undefined && !named.includes(f)) named.push(f);
  }
  named.sort((a, b) => FORMATS.indexOf(a) - FORMATS.indexOf(b));
  if (named.length === 0)
    return {
      problems: [
        `matches no format: expected ${EXPECTED}; got the fields ${keys.slice(0, 8).join(', ') || 'none'}`,
      ],
    };
  if (named.length > 1) {
    const which = named.map((f) => `${f} (${keys.filter((k) => FIELDS[f].required.includes(k)).join(', ')})`);
    return { problems: [`has fields of two formats, ${list(which)}: Together refuses that; keep one`] };
  }
  const format = named[0];
  const problems: string[] = [];
  const { required, optional } = FIELDS[format];
  for (const k of keys)
    if (!required.includes(k) && !optional.includes(k))
      problems.push(
        `has a field ${JSON.stringify(k)} no format has: Together's check refuses extra fields; remove it`,
      );
  const missing = required.filter((k) => !(k in value));
  if (missing.length > 0)
    problems.push(
      `has no ${list(missing.map((k) => JSON.stringify(k)))} (${article(format)} sample has ${list(required)})`,
    );
  else CHECKS[format](value, problems);
  return { format, problems };
}

const article = (format: DataFormat) => (format === 'instruction' ? 'an instruction' : `a ${format}`);

const CHECKS: Record<DataFormat, (sample: Json, problems: string[]) => void> = {
  conversational: (s, problems) => {
    checkMessages(s.messages, 'messages', true, problems);
    checkTools(s.tools, 'tools', problems);
  },
  instruction: (s, problems) => {
    if (typeof s.prompt !== 'string') problems.push(`prompt must be a string; got ${preview(s.prompt)}`);
    checkText(s.completion, 'completion', problems);
  },
  generic: (s, problems) => checkText(s.text, 'text', problems),
  preference: (s, problems) => {
    if (!isObject(s.input)) problems.push(`input must be an object; got ${preview(s.input)}`);
    else if (!('messages' in s.input))
      problems.push('input has no "messages" (a preference sample\'s input is {"messages": [...]})');
    // Not held to start with system or user: Together's own preference example starts with an assistant turn.
    else checkMessages(s.input.messages, 'input.messages', false, problems);
    if (isObject(s.input)) checkTools(s.input.tools, 'input.tools', problems);
    for (const field of ['preferred_output', 'non_preferred_output']) checkOutput(s[field], field, problems);
  },
};

function checkText(value: unknown, path: string, problems: string[]): void {
  if (typeof value !== 'string') problems.push(`${path} must be a string; got ${preview(value)}`);
  else if (value.trim() === '') problems.push(`${path} is empty: an empty sample`);
}

function checkTools(value: unknown, path: string, problems: string[]): void {
  if (value !== undefined && !Array.isArray(value))
    problems.push(`${path} must be an array of tools; got ${preview(value)}`);
}

function checkOutput(value: unknown, path: string, problems: string[]): void {
  if (!Array.isArray(value)) problems.push(`${path} must be an array of one message; got ${preview(value)}`);
  else if (value.length !== 1) problems.push(`${path} must hold exactly one message; got ${value.length}`);
  else {
    const { role, content } = checkMessage(value[0], `${path}[0]`, problems);
    if (role !== undefined && role !== 'assistant')
      problems.push(`${path}[0].role must be "assistant"; got ${preview(role)}`);
    else if (role === 'assistant' && !content) problems.push(`${path}[0] has no content: an empty sample`);
  }
}

function checkMessages(value: unknown, path: string, startsWithUser: boolean, problems: string[]): void {
  if (!Array.isArray(value))
    return void problems.push(`${path} must be an array of messages; got ${preview(value)}`);
  if (value.length === 0) return void problems.push(`${path} is empty: an empty sample`);
  let previous: string | undefined;
  let anyContent = false;
  value.forEach((message, i) => {
    const at = `${path}[${i}]`;
    const { role, content } = checkMessage(message, at, problems);
    anyContent ||= content;
    if (role === undefined) return void (previous = undefined);
    if (i === 0 && startsWithUser && role !== 'system' && role !== 'user')
      problems.push(`${at}.role is ${preview(role)}: a conversation starts with system or user`);
    // Several tool results may follow one assistant turn with several tool_calls.
    if (role === previous && role !== 'tool')
      problems.push(
        `${at}.role is ${preview(role)} again after ${path}[${i - 1}]: user and assistant take turns`,
      );
    previous = role;
  });
  if (!anyContent) problems.push(`an empty sample: no message in ${path} has content`);
}

/** One message: its role when it is a known one, and whether it carries anything to train on. */
function checkMessage(message: unknown, at: string, problems: string[]): { role?: string; content: boolean } {
  if (!isObject(message)) {
    problems.push(`${at} must be an object with role and content; got ${preview(message)}`);
    return { content: false };
  }
  let role: string | undefined;
  if (!('role' in message)) problems.push(`${at} has no role`);
  else if (typeof message.role !== 'string' || !ROLES.includes(message.role))
    problems.push(`${at}.role must be one of ${ROLES.join(', ')}; got ${preview(message.role)}`);
  else role = message.role;
  const { content, tool_calls: calls, weight } = message;
  if (calls !== undefined && !Array.isArray(calls))
    problems.push(`${at}.tool_calls must be an array; got ${preview(calls)}`);
  if (weight !== undefined && weight !== 0 && weight !== 1)
    problems.push(`${at}.weight must be 0 or 1; got ${preview(weight)}`);
  if (typeof content === 'string') return { role, content: content.trim() !== '' };
  // Content parts ({type: ...}), as multimodal chat messages carry them: taken, not checked further.
  if (Array.isArray(content) && content.every((part) => isObject(part) && typeof part.type === 'string'))
    return { role, content: content.length > 0 };
  if (
    (content === undefined || content === null) &&
    role === 'assistant' &&
    Array.isArray(calls) &&
    calls.length > 0
  )
    return { role, content: true };
  problems.push(
    content === undefined
      ? `${at} has no content`
      : `${at}.content must be a string; got ${preview(content)}`,
  );
  return { role, content: false };
}
