import { DEFAULT_TOGETHER_API_BASE_URL } from '../../lib/contract';
import { EVENT_TYPES, eventSpec } from '../../lib/events';
import { ArgSpec, parseArgs } from './args';
import { checkData } from './check-data';
import { DEFAULT_MAX_PROBLEMS } from './check-data/core';
import { dev } from './dev';
import { Io } from './io';
import { listen, sourceSwitches } from './listen';
import { OPS_COMMANDS } from './ops-commands';
import { send, sign, verify } from './sign';
import { track } from './track';

/** The commands: each one's summary (in the list), usage (its --help), the flags its parser takes, and its run. */

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly spec: ArgSpec;
  readonly run: (args: ReturnType<typeof parseArgs>, io: Io) => Promise<number>;
}

const SCHEME = '  --scheme S            together-hmac (default) or standard-webhooks';

/** `words` after `indent`, as lines of at most 116 characters; the lines after the first indented 2 more. */
function wrap(words: readonly string[], indent: string): string[] {
  const lines = [`${indent}${words[0]}`];
  for (const word of words.slice(1)) {
    const joined = `${lines[lines.length - 1]} ${word}`;
    if (joined.length <= 116) lines[lines.length - 1] = joined;
    else lines.push(`${indent}  ${word}`);
  }
  return lines;
}

/** Each catalogue type, its description, and the `data` fields `--data` may set (`send --help`). */
function eventTypes(): string {
  const width = Math.max(...EVENT_TYPES.map((t) => t.length)) + 1;
  const indent = ' '.repeat(width + 4);
  const lines = EVENT_TYPES.flatMap((type) => {
    const spec = eventSpec(type);
    const fields = Object.keys(spec.fields).map((f, i, all) => (i < all.length - 1 ? `${f},` : f));
    return [
      `  ${`${type}${spec.producer ? '*' : ''}`.padEnd(width)}  ${spec.description}`,
      ...wrap(['data:', ...fields], indent),
    ];
  });
  return [
    ...lines,
    '',
    '* made by this library (the poller, a recipe), not sent by Together: dev takes it; a deployed receiver',
    '  answers 400 to it from a webhook.',
  ].join('\n');
}

/** The opt-in job sources' switches, as `listen` and `dev` take them. */
const SOURCE_SWITCHES = `  --evaluations         follows evaluation jobs too (evaluation.completed / evaluation.failed)
  --endpoints           follows your dedicated endpoints' starts (endpoint.ready / endpoint.failed)
  --jobs                follows Together's jobs, e.g. model uploads (job.completed / job.failed)
  --deployments         follows your container deployments (deployment.ready / deployment.failed)
  --clusters            follows your GPU clusters into Ready / Degraded (cluster.ready / cluster.degraded)
  --rl-sessions         follows your RL training sessions to their end (rl_session.stopped / rl_session.failed)`;

export const COMMANDS: Record<string, Command> = {
  dev: {
    summary: 'the local pipeline: verifier, dedupe table, bus (npm start)',
    usage: `together-webhooks dev [--port N] [--api-base-url URL] [--interval SECONDS] ${sourceSwitches()
      .map((s) => `[--${s}] `)
      .join('')}[--scheme S]

Serves POST http://127.0.0.1:PORT/webhooks/together through the verifier's own core, with dynalite (in memory) as
the dedupe table and a local bus that routes with the construct's rules. Each routed event is one JSON line on
stdout; what a person reads goes to stderr. The signing secret is TOGETHER_WEBHOOK_SECRET, else generated and
printed. With TOGETHER_API_KEY set, your Together jobs are polled and become events too. Ctrl-C stops.

  --port N              where to listen on 127.0.0.1 (default: PORT, else 8787; 0 picks a free port)
  --api-base-url URL    Together's API (default: TOGETHER_API_BASE_URL, else ${DEFAULT_TOGETHER_API_BASE_URL})
  --interval SECONDS    between polls, with TOGETHER_API_KEY (default 60)
  (with TOGETHER_API_KEY: fine-tunes, batches, and these opt-in sources too)
${SOURCE_SWITCHES}
${SCHEME}`,
    spec: { values: ['port', 'scheme', 'api-base-url', 'interval'], switches: sourceSwitches() },
    run: (args, io) => dev(args, io),
  },
  send: {
    summary: 'POST a signed sample event of a type',
    usage: `together-webhooks send <type> --url URL --secret S [--data KEY=VALUE ...] [--id ID] [--repeat N] [--scheme S]

Builds a sample <type> event from the catalogue, signs it and POSTs it; prints each answer's status and body.

  --url URL             where to POST, e.g. http://127.0.0.1:8787/webhooks/together (npm start prints it)
  --secret S            the signing secret (default: TOGETHER_WEBHOOK_SECRET)
  --data KEY=VALUE      sets a field of data (repeatable); the value is JSON when it parses, else text
  --id ID               the event id (default: a new evt_<uuid>)
  --repeat N            sends the same event N times, to see the duplicates refused (default 1)
${SCHEME}

Event types:
${eventTypes()}`,
    spec: { values: ['url', 'secret', 'data', 'id', 'repeat', 'scheme'] },
    run: send,
  },
  sign: {
    summary: 'print the signature header(s) for a body',
    usage: `together-webhooks sign --secret S [file|-] [--id ID] [--timestamp SECONDS] [--scheme S]

Reads the body from the file (or stdin) and prints the headers a sender attaches.

  --secret S            the signing secret (default: TOGETHER_WEBHOOK_SECRET)
  --id ID               the message id, signed by standard-webhooks (default: a new msg_<uuid>)
  --timestamp SECONDS   Unix seconds, signed by standard-webhooks (default: now)
${SCHEME}`,
    spec: { values: ['secret', 'scheme', 'id', 'timestamp'] },
    run: sign,
  },
  verify: {
    summary: 'check a signature against a body',
    usage: `together-webhooks verify --secret S --signature X [file|-] [--id ID --timestamp SECONDS] [--scheme S]

Reads the body from the file (or stdin); prints "valid" (exit 0) or "invalid: <why>" (exit 1).

  --secret S            the signing secret (default: TOGETHER_WEBHOOK_SECRET)
  --signature X         the signature header's value to check
  --id ID               the webhook-id header (standard-webhooks only, and needed there)
  --timestamp SECONDS   the webhook-timestamp header (standard-webhooks only, and needed there)
${SCHEME}`,
    spec: { values: ['secret', 'signature', 'scheme', 'id', 'timestamp'] },
    run: verify,
  },
  listen: {
    summary: 'poll your Together account and forward each outcome as a signed webhook',
    usage: `together-webhooks listen [--forward-to URL --secret S] [--api-base-url URL] [--state FILE] [--interval SECONDS]
                         [--watch-model ID ...] ${sourceSwitches()
                           .map((s) => `[--${s}] `)
                           .join('')}
                         [--track-video ID ...] [--track-queue ID ... --model M] [--once] [--scheme S]

Polls Together's jobs API (TOGETHER_API_KEY) with the poller's own core: the same events and dedupe keys the
deployed poller makes. Each outcome is POSTed, signed, to --forward-to, or printed as one JSON line without it.

  --forward-to URL      where to POST each outcome, e.g. the URL npm start prints
  --secret S            the signing secret, needed with --forward-to (default: TOGETHER_WEBHOOK_SECRET)
  --api-base-url URL    Together's API (default ${DEFAULT_TOGETHER_API_BASE_URL})
  --state FILE          remembers what went out, so a restart sends nothing twice
                        (default: a file in $XDG_CACHE_HOME or ~/.cache/together-webhooks)
  --interval SECONDS    between polls (default 60)
  --watch-model ID      watches a model for deprecation (model.deprecated); repeatable
${SOURCE_SWITCHES}
  --track-video ID      tracks a video generation before polling starts (video.completed / video.failed);
                        repeatable. listen always follows its inbox: together-webhooks track ... --state FILE adds more
  --track-queue ID      tracks a queued job by its request_id (queue_job.done / queue_job.failed); repeatable
  --model M             the model the --track-queue jobs were submitted to
  --once                polls once and exits
${SCHEME}`,
    spec: {
      values: [
        'forward-to',
        'secret',
        'api-base-url',
        'state',
        'interval',
        'scheme',
        'watch-model',
        'track-video',
        'track-queue',
        'model',
      ],
      switches: ['once', ...sourceSwitches()],
    },
    run: (args, io) => listen(args, io),
  },
  track: {
    summary: 'hand a video or a queued job to a poller, which follows it to its outcome event',
    usage: `together-webhooks track video ID | queue ID --model M  (--table T --scope S [--region R] [--endpoint URL] | --state FILE)

Adds an operation Together cannot list to a poller's tracking inbox; the poller follows it from its next poll and
publishes video.completed / video.failed, or queue_job.done / queue_job.failed. Tracking one twice changes nothing.

  --model M             the model a queued job was submitted to (queue only)
  --table T             the dedupe table of a deployed poller with tracking on (or dev's: it prints the flags)
  --scope S             that poller's stateScope (TogetherJobPoller.stateScope; dev's is dev)
  --region R            the table's region (default: your AWS configuration's)
  --endpoint URL        DynamoDB's endpoint, e.g. the one dev prints (default: AWS's)
  --state FILE          the state file of a listen on this machine, instead of a table`,
    spec: { values: ['model', 'table', 'scope', 'region', 'endpoint', 'state'] },
    run: track,
  },
  ...OPS_COMMANDS,
  'check-data': {
    summary: 'check a fine-tuning JSONL file before uploading it to Together',
    usage: `together-webhooks check-data <file.jsonl> [--max-problems N]

Reads the file as a stream (any size, in bounded memory) and checks it against the formats Together's fine-tuning
takes: conversational (messages), instruction (prompt, completion), generic (text), preference (input,
preferred_output, non_preferred_output). Every line parses as a JSON object, one format throughout, the required
fields present and well typed, roles system/user/assistant/tool taking turns, no empty sample, no blank line, no
BOM, valid UTF-8, no line over 16 MiB. Prints each problem with its line number, then the format, the samples and
the problems; exit 0 if there are none, 1 if there are.

  --max-problems N      how many problems to print; the rest are counted (default ${DEFAULT_MAX_PROBLEMS})`,
    spec: { values: ['max-problems'] },
    run: checkData,
  },
};
