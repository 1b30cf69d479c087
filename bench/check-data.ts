/**
 * npm run bench:check-data (also part of npm run bench): `together-webhooks check-data`'s core over 100 MiB and
 * 1 GiB of generated conversational JSONL (test/support/fine-tune-data.ts: a 1 MiB block yielded again and again,
 * made on the fly, so no file is read and the disk is not measured), beside the floor: the same bytes split at
 * newlines and each line JSON.parse'd, no rules. Each run in a child process of its own (bench/support/
 * check-data-run.ts), so its peak RSS is its own; interleaved rounds, the order alternating; medians with the
 * spread. Never asserts on time.
 */
import type { CheckCandidate, CheckJob, CheckResult } from './support/check-data-run';
import { machine, runMeasured } from './support/fork';
import { median, mib, withSpread } from './support/stats';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SIZES_MIB = [100, 1024];
const CANDIDATES: ReadonlyArray<{ id: CheckCandidate; name: string }> = [
  { id: 'check-data', name: 'check-data: checkStream (every rule)' },
  { id: 'floor', name: 'floor: split + JSON.parse a line' },
];

async function main(): Promise<void> {
  const startedAt = Date.now();
  const results = new Map<string, CheckResult[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const size of SIZES_MIB) {
      for (const c of round % 2 === 0 ? CANDIDATES : [...CANDIDATES].reverse()) {
        const job: CheckJob = { candidate: c.id, mib: size };
        const r = await runMeasured<CheckResult>('check-data-run.ts', job, c.name, ['--expose-gc']);
        results.set(`${size}/${c.id}`, [...(results.get(`${size}/${c.id}`) ?? []), r]);
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  console.log(
    `\n## check-data, ${new Date().toISOString().slice(0, 10)} (${machine()}; ${ROUNDS} interleaved rounds, ` +
      'median (min-max))\n',
  );
  console.log(
    '| data | candidate | samples | wall s | MiB/s (wall) | MiB/s (CPU) | peak RSS over baseline, MiB | ' +
      'sampled RSS over baseline, MiB | VmHWM, MiB | baseline RSS, MiB | wall vs floor |',
  );
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const size of SIZES_MIB) {
    const floor = results.get(`${size}/floor`)!;
    for (const c of CANDIDATES) {
      const rs = results.get(`${size}/${c.id}`)!;
      const data = mib(rs[0].bytes);
      console.log(
        `| ${size} MiB | ${c.name} | ${rs[0].samples.toLocaleString('en-US')} | ` +
          `${withSpread(
            rs.map((r) => r.wallMs / 1000),
            1,
          )} | ${withSpread(rs.map((r) => data / (r.wallMs / 1000)))} | ` +
          `${withSpread(rs.map((r) => data / (r.cpuMs / 1000)))} | ` +
          `${withSpread(
            rs.map((r) => mib(r.peakBytes - r.baselineBytes)),
            1,
          )} | ` +
          `${withSpread(
            rs.map((r) => mib(r.sampledPeakBytes - r.baselineBytes)),
            1,
          )} | ` +
          `${median(rs.map((r) => mib(r.hwmBytes ?? NaN))).toFixed(0)} | ` +
          `${median(rs.map((r) => mib(r.baselineBytes))).toFixed(0)} | ` +
          `${withSpread(
            rs.map((r, i) => r.wallMs / floor[i].wallMs),
            2,
          )}x |`,
      );
    }
  }
  const masked = [...results.values()].flat().filter((r) => r.peakBeforeBytes >= r.peakBytes).length;
  console.log(
    `\nmaxRSS floor from the forking process: ${mib(process.memoryUsage.rss()).toFixed(0)} MiB. ` +
      (masked > 0
        ? `${masked} runs peaked no higher than before the run (start-up): their growth is an upper bound.`
        : 'Every run peaked above its pre-run maxRSS.'),
  );
  console.log(`whole run: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
