import { ChildProcess, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { mib } from './stats';

/**
 * The forking side of the memory benchmarks (bench/batch-results.ts, bench/poller-memory.ts): the server process,
 * one measured child per run, the interleaved rounds, and the note on the forking process's own RSS. That process
 * stays small on purpose: Linux starts a forked child's `maxRSS` at the parent's RSS.
 */

export interface PeakRss {
  readonly baselineBytes: number;
  readonly peakBytes: number;
  readonly peakBeforeBytes: number;
}

export interface ForkedBench<Ready, Candidate, Result extends PeakRss> {
  /** The server side, a script in bench/support: it sends `Ready` once it serves, and stops when told `stop`. */
  readonly server: { script: string; what: string; nodeFlags?: string[]; env: NodeJS.ProcessEnv };
  readonly rounds: number;
  readonly sizes: readonly number[];
  readonly candidates: readonly Candidate[];
  readonly id: (c: Candidate) => string;
  /** One measured run, in a child of its own (`runMeasured`). */
  readonly run: (ready: Ready, size: number, c: Candidate) => Promise<Result>;
  /** The table, from each size's and candidate's results under `${size}/${id}`, a round each. */
  readonly print: (ready: Ready, results: Map<string, Result[]>) => void;
  /** What one run is called in the closing note: `copy`/`copies`; `baselines` adds to its parenthesis. */
  readonly runs: { one: string; many: string; baselines?: string };
}

/** Starts the server, runs the interleaved rounds, stops the server, prints the table, the RSS note and the time. */
export async function runForkedBench<Ready, Candidate, Result extends PeakRss>(
  bench: ForkedBench<Ready, Candidate, Result>,
): Promise<void> {
  const startedAt = Date.now();
  const server = await startServerProcess<Ready>(bench.server);
  const { ready } = server;
  const rounds = await interleavedRounds(bench, (size, c) => bench.run(ready, size, c));
  server.child.send({ cmd: 'stop' });
  bench.print(ready, rounds.results);
  console.log(rssFloorNote(rounds, bench.runs));
  console.log(`whole run: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
}

const baseEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** `script` in bench/support, run with tsx and `nodeFlags`. */
function forkSupport(script: string, args: string[], nodeFlags: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return fork(join(__dirname, script), args, {
    execArgv: ['--import', 'tsx', ...nodeFlags],
    env: { ...baseEnv, ...extraEnv },
  });
}

/** Forks the server side; resolves with it and the first message it sends (where to find what it serves). */
function startServerProcess<Ready>({
  script,
  what,
  nodeFlags,
  env,
}: ForkedBench<Ready, unknown, PeakRss>['server']): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = forkSupport(script, [], nodeFlags ?? [], env);
  return new Promise((resolve, reject) => {
    child.once('message', (ready: Ready) => resolve({ child, ready }));
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

/** One measured run in a child of its own, `job` as its argument; resolves with the result it sends. */
export function runMeasured<Result>(
  script: string,
  job: unknown,
  what: string,
  nodeFlags: string[],
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = forkSupport(script, [JSON.stringify(job)], nodeFlags);
    let result: Result | undefined;
    child.on('message', (m: Result) => (result = m));
    child.on('error', reject);
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`${what} exited with ${code}`))));
  });
}

interface Rounds<Result> {
  readonly results: Map<string, Result[]>;
  /** The forking process's own peak RSS, sampled before each fork. */
  readonly parentRss: number;
}

/**
 * Each candidate at each size, `rounds` times, one dot a run on stderr. The order alternates each round, so no
 * candidate always follows the same other.
 */
async function interleavedRounds<Candidate, Result>(
  {
    rounds,
    sizes,
    candidates,
    id,
  }: Pick<ForkedBench<unknown, Candidate, PeakRss>, 'rounds' | 'sizes' | 'candidates' | 'id'>,
  run: (size: number, c: Candidate) => Promise<Result>,
): Promise<Rounds<Result>> {
  const results = new Map<string, Result[]>();
  let parentRss = 0;
  for (let round = 0; round < rounds; round++) {
    for (const size of sizes) {
      const order = round % 2 === 0 ? candidates : [...candidates].reverse();
      for (const c of order) {
        parentRss = Math.max(parentRss, process.memoryUsage.rss());
        const r = await run(size, c);
        results.set(`${size}/${id(c)}`, [...(results.get(`${size}/${id(c)}`) ?? []), r]);
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  return { results, parentRss };
}

/** `node vX, N cores, <CPU model>`. */
export function machine(): string {
  return `node ${process.version}, ${cpus().length} cores, ${cpus()[0]?.model.trim()}`;
}

/**
 * What the peaks are worth: the forking process's RSS (a floor under every child's `maxRSS`), the baselines, and
 * how many runs peaked no higher than their start-up (their growth is an upper bound).
 */
function rssFloorNote(
  { results, parentRss }: Rounds<PeakRss>,
  run: ForkedBench<unknown, unknown, PeakRss>['runs'],
): string {
  const all = [...results.values()].flat();
  const masked = all.filter((r) => r.peakBeforeBytes >= r.peakBytes).length;
  return (
    `\nmaxRSS floor from the forking process: ${mib(parentRss).toFixed(0)} MiB (baselines ` +
    `${Math.min(...all.map((r) => mib(r.baselineBytes))).toFixed(0)}-` +
    `${Math.max(...all.map((r) => mib(r.baselineBytes))).toFixed(0)} MiB${run.baselines ?? ''}).` +
    (masked > 0
      ? ` ${masked} ${run.many} peaked no higher than before the ${run.one} (start-up): their growth is an upper bound.`
      : ` Every ${run.one} peaked above its pre-${run.one} maxRSS.`)
  );
}
