import { main } from '../../bin/cli';
import type { AwsFactory } from '../../bin/cli/aws';
import { Io } from '../../bin/cli/io';
import { ApiClock } from '../../lambda/shared/together-api';

/** The together-webhooks CLI, run in-process with its output captured. */
export function capture(env: NodeJS.ProcessEnv = {}, stdin = '', clock?: ApiClock, aws?: AwsFactory) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readBody: async () => Buffer.from(stdin),
    env,
    clock,
    aws,
  };
  return { io, out, err, run: (...argv: string[]) => main(argv, io) };
}
