#!/usr/bin/env node
// Our own commands print no AWS SDK notice about this Node.js version (set before any client exists).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ArgSpec, parseArgs, UsageError } from './args';
import { dev } from './dev';
import { Io, processIo } from './io';
import { listen, sourceSwitches } from './listen';
import { send, sign, verify } from './sign';

/** together-webhooks: sign, send and verify webhooks, run the pipeline locally, and listen to Together. */

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly spec: ArgSpec;
  readonly run: (args: ReturnType<typeof parseArgs>, io: Io) => Promise<number>;
}

const SCHEME = '  --scheme S          together-hmac (default) or standard-webhooks';

const COMMANDS: Record<string, Command> = {
  dev: {
    summary: 'the local pipeline: verifier, dedupe table, bus (npm start)',
    usage: `together-webhooks dev [--port N] [--scheme S] [--api-base-url URL] [--interval SECONDS]

Serves POST http://127.0.0.1:$PORT/webhooks/together (PORT default 8787) through the verifier's own core, with
dynalite as the dedupe table and a local bus that routes with the construct's rules. Each routed event is one JSON
line on stdout. Secret: TOGETHER_WEBHOOK_SECRET, else generated and printed. With TOGETHER_API_KEY set, your
Together jobs are polled every --interval seconds (default 60) and become events too. Ctrl-C stops.

${SCHEME}`,
    spec: { values: ['port', 'scheme', 'api-base-url', 'interval'] },
    run: (args, io) => dev(args, io),
  },
  send: {
    summary: 'POST a signed sample event of a type',
    usage: `together-webhooks send <type> --url URL --secret S [--data key=value ...] [--id ID] [--repeat N]

Builds a sample <type> event from the catalogue (--data overrides fields; values are JSON when they parse),
signs it and POSTs it; prints each answer's status and body. --repeat N sends the same id N times (dedupe).

${SCHEME}`,
    spec: { values: ['url', 'secret', 'data', 'id', 'repeat', 'scheme'] },
    run: send,
  },
  sign: {
    summary: 'print the signature header(s) for a body',
    usage: `together-webhooks sign --secret S [file|-] [--scheme S] [--id ID] [--timestamp SECONDS]

Reads the body from the file (or stdin) and prints the headers a sender attaches.

${SCHEME}`,
    spec: { values: ['secret', 'scheme', 'id', 'timestamp'] },
    run: sign,
  },
  verify: {
    summary: 'check a signature against a body',
    usage: `together-webhooks verify --secret S --signature X [file|-] [--scheme S] [--id ID --timestamp SECONDS]

Prints "valid" (exit 0) or "invalid: <why>" (exit 1). standard-webhooks also needs --id and --timestamp.

${SCHEME}`,
    spec: { values: ['secret', 'signature', 'scheme', 'id', 'timestamp'] },
    run: verify,
  },
  listen: {
    summary: 'poll your Together account and forward each outcome as a signed webhook',
    usage: `together-webhooks listen [--forward-to URL --secret S] [--api-base-url URL] [--state FILE] [--interval SECONDS] ${sourceSwitches()
      .map((s) => `[--${s}] `)
      .join('')}[--once]

Polls Together's jobs API (TOGETHER_API_KEY) with the poller's own core: the same events and dedupe keys the
deployed poller makes. Each outcome is POSTed, signed, to --forward-to (e.g. the URL npm start prints), or printed
as one JSON line. --state (default in ~/.cache/together-webhooks) remembers what went out: a restart sends nothing
twice. --watch-model ID (repeatable) watches a model for deprecation; --evaluations follows evaluation jobs too;
--endpoints follows your dedicated endpoints' starts (endpoint.ready / endpoint.failed).

${SCHEME}`,
    spec: {
      values: ['forward-to', 'secret', 'api-base-url', 'state', 'interval', 'scheme', 'watch-model'],
      switches: ['once', ...sourceSwitches()],
    },
    run: (args, io) => listen(args, io),
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'together-webhooks <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'together-webhooks <command> --help for its options.',
  ].join('\n');
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    const args = parseArgs(rest, command.spec);
    if (args.flags.has('help')) {
      io.out(command.usage);
      return 0;
    }
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`together-webhooks ${name}: ${err.message}`);
      return 2;
    }
    io.err(`together-webhooks ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  // Explicit exit: kept-alive sockets to Together or a receiver must not hold a finished command open.
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
