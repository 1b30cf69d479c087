#!/usr/bin/env node
// Our own commands print no AWS SDK notice about this Node.js version (set before any client exists).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { parseArgs, UsageError } from './args';
import { COMMANDS } from './commands';
import { Io, processIo } from './io';
import { version } from './version';

export { COMMANDS };

/**
 * together-webhooks: sign, send and verify webhooks, run the pipeline locally, listen to Together; and, on a deployed
 * stack, replay the archive, trace an outcome, and show the poller's status.
 */

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'together-webhooks <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'together-webhooks <command> --help for its options; together-webhooks --version for the version.',
  ].join('\n');
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') return printVersion(io);
  const command = COMMANDS[name];
  if (!command) {
    io.err(`together-webhooks: unknown command "${name}"\n\n${help()}`);
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

function printVersion(io: Io): number {
  try {
    io.out(version());
    return 0;
  } catch (err) {
    io.err(`together-webhooks: ${(err as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  // Explicit exit: kept-alive sockets to Together or a receiver must not hold a finished command open.
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
