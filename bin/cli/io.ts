import { readFileSync } from 'node:fs';
import { ApiClock } from '../../lambda/shared/together-api';
import type { AwsFactory } from './aws';

/** Where the CLI writes: stdout carries results (JSON lines), stderr what a person reads. Tests swap these. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** The body to sign or check: a file, or stdin for `-` or nothing. */
  readBody(path: string | undefined): Promise<Buffer>;
  env: NodeJS.ProcessEnv;
  /** The clock `listen` polls and signs by; the real one when unset (tests pin it to their fixtures' time). */
  clock?: ApiClock;
  /** The AWS clients replay, trace and status call; the real ones (bin/cli/aws.ts) when unset. */
  aws?: AwsFactory;
}

export const processIo: Io = {
  out: (line) => void process.stdout.write(line + '\n'),
  err: (line) => void process.stderr.write(line + '\n'),
  async readBody(path) {
    if (path && path !== '-') return readFileSync(path);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
  env: process.env,
};
