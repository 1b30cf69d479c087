/**
 * Times `cdk synth` of the example app as a user runs it: a fresh CLI process each time, built-in template
 * validation on. Prints the median and the spread; never asserted in tests.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const RUNS = 5;
const root = join(__dirname, '..');
const cdk = join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk');

const times: number[] = [];
for (let i = 0; i < RUNS; i++) {
  rmSync(join(root, 'cdk.out'), { recursive: true, force: true });
  const start = performance.now();
  execFileSync(process.execPath, [cdk, 'synth', '--quiet'], { cwd: root, stdio: 'ignore' });
  times.push((performance.now() - start) / 1000);
}
times.sort((a, b) => a - b);
const bundle = statSync(join(root, 'assets', 'verifier', 'index.js')).size;
console.log(`### example app synth, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| figure | value |');
console.log('| --- | ---: |');
console.log(
  `| \`cdk synth\` (fresh CLI process, validation on), median of ${RUNS} | ${times[Math.floor(RUNS / 2)].toFixed(2)} s |`,
);
console.log(`| fastest / slowest | ${times[0].toFixed(2)} s / ${times[RUNS - 1].toFixed(2)} s |`);
console.log(`| verifier bundle | ${(bundle / 1024).toFixed(1)} KB |`);
