/**
 * npm run bench:e2e (also part of npm run bench): signed webhooks through the local pipeline's HTTP server
 * (`together-webhooks dev`: the verifier's core, the claim path on dynalite, the local bus), side by side in one run
 * with a plain Express receiver written the way the seed shows it (HMAC check, in-memory Set, nothing durable).
 * Throughput and latency p50/p99 at concurrency 1, 10 and 50, interleaved rounds, medians with the spread.
 * Both servers run in their own processes; the load comes from this one. Never asserts on time.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { signatureHeaders } from '../lambda/verifier/signature';
import { median, spread } from './support/stats';

const SECRET = 'bench-e2e-secret';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = [1, 10, 50];
const REQUESTS = (c: number) => (c === 1 ? 400 : 2_000);
const root = join(__dirname, '..');

interface Server {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
}

function start(name: string, args: string[], ready: 'stdout' | 'stderr'): Promise<Server> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      SECRET,
      TOGETHER_WEBHOOK_SECRET: SECRET,
      TOGETHER_API_KEY: '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', ready === 'stdout' ? 'pipe' : 'ignore', ready === 'stderr' ? 'pipe' : 'ignore'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const stream = ready === 'stdout' ? child.stdout! : child.stderr!;
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/webhooks\/together)/.exec(text);
      if (m) resolve({ name, url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}): ${text}`)));
  });
}

let nextId = 0;
// Dated at the start of the run: a receiver refuses an envelope created before its dedupe retention (7 days) as a
// possible replay. Whole seconds, so every body has the size it had with the fixed date this replaced.
const CREATED_AT = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function post(agent: Agent, url: string): Promise<number> {
  const id = ++nextId;
  const body = JSON.stringify({
    id: `evt_bench_${id}`,
    type: 'fine_tune.completed',
    created_at: CREATED_AT,
    data: { fine_tune_id: `ft-bench-${id}`, model_name: 'acme/llama-ft', eval_loss: 0.42 },
  });
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...signatureHeaders('together-hmac', SECRET, body),
  };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}`));
        else resolve(performance.now() - started);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function load(url: string, concurrency: number, total: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent++;
        latencies.push(await post(agent, url));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rps: total / seconds, p50: at(0.5), p99: at(0.99) };
}

async function main() {
  const ours = await start(
    'ours: local pipeline (verifier core, dynalite, local bus)',
    [join('assets', 'cli', 'index.js'), 'dev'],
    'stderr',
  );
  const reference = await start(
    'reference: Express, HMAC + in-memory Set',
    ['--import', 'tsx', join('bench', 'support', 'express-receiver.ts')],
    'stdout',
  );
  const servers = [ours, reference];
  // Warm both (JIT, dynalite's table, keep-alive sockets).
  for (const s of servers) await load(s.url, 10, 500);

  console.log(
    `\n## end-to-end, ${new Date().toISOString().slice(0, 10)} (node ${process.version}, ${ROUNDS} interleaved rounds; ` +
      'median, min-max)\n',
  );
  console.log('| concurrency | receiver | requests/s | p50 ms | p99 ms | throughput vs reference |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const concurrency of CONCURRENCY) {
    const results = servers.map(() => ({ rps: [] as number[], p50: [] as number[], p99: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, s] of servers.entries()) {
        const r = await load(s.url, concurrency, REQUESTS(concurrency));
        results[i].rps.push(r.rps);
        results[i].p50.push(r.p50);
        results[i].p99.push(r.p99);
      }
    }
    servers.forEach((s, i) => {
      const r = results[i];
      const ratios = r.rps.map((x, round) => x / results[1].rps[round]);
      console.log(
        `| ${concurrency} | ${s.name} | ${median(r.rps).toFixed(0)} (${spread(r.rps)}) | ${median(r.p50).toFixed(2)} | ` +
          `${median(r.p99).toFixed(2)} | ${median(ratios).toFixed(2)}x (${spread(ratios, 2)}) |`,
      );
    });
  }
  for (const s of servers) s.child.kill('SIGINT');

  // On AWS, per million events through the verifier (us-east-1 list prices, on-demand; see README: Cost).
  const price = {
    apiPerM: 1.0,
    lambdaReqPerM: 0.2,
    lambdaGbS: 0.0000133334,
    wruPerM: 0.625,
    rruPerM: 0.125,
    ebPerM: 1.0,
    logsGb: 0.5,
    archiveGb: 0.1,
  };
  const assumed = { gb: 0.25, seconds: 0.05, logKb: 1.2, eventKb: 1 };
  const lambda = price.lambdaReqPerM + 1e6 * assumed.gb * assumed.seconds * price.lambdaGbS;
  const logs = ((1e6 * assumed.logKb) / 1024 ** 2) * price.logsGb;
  const archive = ((1e6 * assumed.eventKb) / 1024 ** 2) * price.archiveGb;
  const total = price.apiPerM + lambda + 2 * price.wruPerM + price.rruPerM + price.ebPerM + logs + archive;
  console.log('\n### cost per million events on AWS (formula, list prices; two figures assumed)\n');
  console.log('| item | $ |');
  console.log('| --- | ---: |');
  console.log(`| HTTP API request | ${price.apiPerM.toFixed(2)} |`);
  console.log(
    `| Lambda: request + ${assumed.gb} GB x ${assumed.seconds * 1000} ms (assumed) | ${lambda.toFixed(2)} |`,
  );
  console.log(`| DynamoDB: 2 writes (claim, complete) | ${(2 * price.wruPerM).toFixed(2)} |`);
  console.log(
    `| DynamoDB: 1 consistent read (the claim an earlier release made) | ${price.rruPerM.toFixed(2)} |`,
  );
  console.log(`| EventBridge: 1 event | ${price.ebPerM.toFixed(2)} |`);
  console.log(`| CloudWatch Logs: ${assumed.logKb} KB an event (assumed) | ${logs.toFixed(2)} |`);
  console.log(`| EventBridge archive: ${assumed.eventKb} KB an event | ${archive.toFixed(2)} |`);
  console.log(`| **total** | **${total.toFixed(2)}** |`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
