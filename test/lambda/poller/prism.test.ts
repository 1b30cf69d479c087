import { randomUUID } from 'node:crypto';
import { outcomeKey, TogetherEnvelope, validateEnvelope } from '../../../lib/events';
import { poll, PollerDeps, PollSummary, pollWindow, RESERVES } from '../../../lambda/poller/core';
import { DynamoPollerStateStore, JobSourceState, PollerState } from '../../../lambda/poller/state';
import { DynamoIdempotencyStore } from '../../../lambda/shared/idempotency';
import { LogLine } from '../../../lambda/shared/log';
import { ApiClock } from '../../../lambda/shared/together-api';
import { LocalDynamo, startDynalite } from '../../support/dynalite';
import { PrismMock, startPrism, TOGETHER_SPEC } from '../../support/prism';

/**
 * A property test of the poller against Prism's dynamic mock of Together's own API description: every answer is
 * random but valid by the spec (new ids on every call, dates between 1889 and 1970, negative numbers, lorem ipsum
 * for every string), so the poller meets answers no hand-written fake gives, and must never assume a job stays as
 * it was. Whatever Together answers: poll() never throws nor stops on a bug of ours; every event is a catalogue
 * event with no problems, named by its outcome key; every time in an event or in the state is a real one; every
 * failure reported is one readable line naming the request.
 */

const POLLS = 60;
const MINUTE = 60_000;
const API_KEY = 'tgp_prism_test_key';
/** Prism's strings are lorem ipsum: single words turn up as model ids now and then, then go missing. */
const LOREM =
  'Lorem ipsum dolor sit amet consectetur adipisicing elit sed do eiusmod tempor incididunt ut labore et magna ' +
  'aliqua Ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat ' +
  'Duis aute irure in reprehenderit voluptate velit esse cillum dolore eu fugiat nulla pariatur Excepteur sint ' +
  'occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum';
const WATCHED = ['meta-llama/Llama-3.3-70B-Instruct-Turbo', ...LOREM.split(' ')];
/** Longest failure text worth a log line or an alert. */
const MAX_REASON = 500;

let prism: PrismMock;
let dynamo: LocalDynamo;

beforeAll(async () => {
  [prism, dynamo] = await Promise.all([
    startPrism(TOGETHER_SPEC, { probe: '/models', headers: { authorization: `Bearer ${API_KEY}` } }),
    startDynalite(),
  ]);
}, 60_000);

afterAll(async () => {
  await prism?.stop();
  await dynamo?.stop();
});

/** A time an event or the state may hold: from this decade, and not later than the poll that wrote it. */
function realMs(ms: unknown, now: number): boolean {
  return typeof ms === 'number' && ms >= Date.UTC(2020, 0, 1) && ms <= now;
}
function realIso(value: unknown, now: number): boolean {
  return (
    typeof value === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
    realMs(Date.parse(value), now)
  );
}

/** Why a text is not a clear one-line reason, if it is not. */
function unclear(text: unknown): string | undefined {
  if (typeof text !== 'string') return `not text: ${JSON.stringify(text)}`;
  if (/[\r\n]/.test(text)) return 'more than one line';
  if (/\[object \w+\]|\bundefined\b|\bNaN\b|Invalid Date/.test(text))
    return 'a value that was never meant as text';
  if (text.length > MAX_REASON) return `${text.length} characters`;
  if (text.trim() === '') return 'empty';
  return undefined;
}

function strings(value: unknown, path: string, out: Array<[string, string]> = []): Array<[string, string]> {
  if (typeof value === 'string') out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${path}[${i}]`, out));
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) strings(v, `${path}.${k}`, out);
  return out;
}

function summaryProblems(s: PollSummary): string[] {
  const problems: string[] = [];
  // Nothing here can stop a poll but a bug of ours: the bus and the table always work, the key is always taken.
  if (s.outcome === 'stopped' || s.outcome === 'skipped') problems.push(`${s.outcome}: ${s.reason}`);
  for (const failure of s.failures ?? []) {
    const why = unclear(failure);
    if (why) problems.push(`failure ${JSON.stringify(failure)}: ${why}`);
    if (!/\bGET \/\S/.test(failure)) problems.push(`failure names no request: ${JSON.stringify(failure)}`);
    if (/\bunexpected: /.test(failure)) problems.push(`a bug of ours: ${JSON.stringify(failure)}`);
  }
  if (s.reason !== undefined) {
    const why = unclear(s.reason);
    if (why) problems.push(`reason ${JSON.stringify(s.reason)}: ${why}`);
    if (s.errors > 0 && s.reason !== s.failures?.[0])
      problems.push(`reason is not the first failure: ${s.reason}`);
  }
  return problems;
}

function logProblems(lines: LogLine[]): string[] {
  return lines.flatMap((line) =>
    strings(line, 'log')
      .map(([path, text]) => [path, text, unclear(text)] as const)
      .filter(([, , why]) => why !== undefined)
      .map(([path, text, why]) => `${path} ${JSON.stringify(text.slice(0, 200))}: ${why}`),
  );
}

function stateProblems(state: PollerState, now: number): string[] {
  const problems: string[] = [];
  const check = (path: string, ms: unknown) => {
    if (ms !== undefined && !realMs(ms, now)) problems.push(`state ${path} = ${String(ms)}`);
  };
  const source = (name: string, s: JobSourceState | undefined) => {
    if (!s) return;
    check(`${name}.since`, s.since);
    check(`${name}.horizon`, s.horizon);
    check(`${name}.listed`, s.listed);
    for (const [id, f] of Object.entries(s.open)) {
      for (const field of ['seen', 'changed', 'visited', 'stalled'] as const)
        check(`${name}.open[${id}].${field}`, f[field]);
    }
    // A finished job undated by Together is remembered as minus when it was last listed.
    for (const [id, mark] of Object.entries(s.done)) check(`${name}.done[${id}]`, Math.abs(mark));
  };
  source('fineTunes', state.fineTunes);
  source('batches', state.batches);
  source('evaluations', state.evaluations);
  source('endpoints', state.endpoints);
  for (const [id, m] of Object.entries(state.models?.models ?? {})) {
    check(`models[${id}].listed`, m.listed);
    check(`models[${id}].missingSince`, m.missingSince);
    check(`models[${id}].published`, m.published);
  }
  return problems;
}

interface Published {
  readonly detailType: string;
  readonly detail: string;
  /** The poll's time when it went out. */
  readonly at: number;
}

function eventProblems(events: Published[]): string[] {
  return events.flatMap(({ detailType, detail, at }) => {
    const problems: string[] = [];
    const parsed = JSON.parse(detail) as TogetherEnvelope & { outcome_key?: unknown };
    const name = `${detailType} ${parsed.id}`;
    const validation = validateEnvelope(parsed);
    if (!validation.ok) return [`${name}: ${validation.reason}`];
    if (!validation.known) problems.push(`${name}: not a catalogue type`);
    for (const problem of validation.problems) problems.push(`${name}: ${problem}`);
    if (detailType !== parsed.type) problems.push(`${name}: detail-type ${detailType}`);
    if (parsed.outcome_key !== outcomeKey(parsed) || parsed.id !== parsed.outcome_key)
      problems.push(`${name}: outcome_key ${String(parsed.outcome_key)}, expected ${outcomeKey(parsed)}`);
    const times: Array<[string, unknown]> = [];
    if (parsed.created_at !== undefined) times.push(['created_at', parsed.created_at]);
    for (const field of ['since', 'missing_since'])
      if (field in parsed.data) times.push([`data.${field}`, parsed.data[field]]);
    for (const [field, value] of times)
      if (!realIso(value, at)) problems.push(`${name}: ${field} ${JSON.stringify(value)} is not a real time`);
    const sunset = parsed.data.sunset_date;
    if (sunset !== undefined && sunset !== null && Number.isNaN(Date.parse(String(sunset))))
      problems.push(`${name}: sunset_date ${JSON.stringify(sunset)}`);
    return problems;
  });
}

test(`${POLLS} polls of a random Together with every source on: no throw, catalogue events, real times, readable failures`, async () => {
  const table = await dynamo.createTable('prism');
  // A minute between polls, on a virtual clock: stalls (5 min) and missing models (2 min) come due.
  const clock: ApiClock & { t: number } = {
    t: Date.now(),
    now: () => clock.t,
    sleep: async (ms) => void (clock.t += ms),
    random: Math.random,
  };
  const published: Published[] = [];
  const logs: LogLine[] = [];
  const notices: string[] = [];
  const deps: PollerDeps = {
    config: {
      apiBaseUrl: prism.baseUrl,
      apiKeySecretName: 'together/api-key',
      watchModels: WATCHED,
      modelInfo: { dolor: { replacementModel: 'ipsum', sunsetDate: '2027-03-01' } },
      stallAfterMs: 5 * MINUTE,
      modelMissingMs: 2 * MINUTE,
      sources: { evaluations: true, endpoints: true },
      initialLookbackMs: 60 * MINUTE,
      retentionSeconds: 7 * 86400,
      metrics: { namespace: 'TogetherWebhooks', service: 'prism-test' },
      // Few visits a poll: jobs pile up (no id comes back), and the round robin still reaches each of them.
      limits: { visitsPerPoll: 8 },
    },
    store: new DynamoIdempotencyStore(dynamo.client, table),
    state: new DynamoPollerStateStore(dynamo.client, table, 'prism'),
    publish: async (detailType, detail) => void published.push({ detailType, detail, at: clock.t }),
    getApiKey: async () => API_KEY,
    notify: async (subject, message) => void notices.push(`${subject}: ${message}`),
    clock,
    log: (line) => logs.push(JSON.parse(JSON.stringify(line)) as LogLine),
    newToken: randomUUID,
  };
  const stateStore = new DynamoPollerStateStore(dynamo.client, table, 'prism');

  const problems: string[] = [];
  const summaries: PollSummary[] = [];
  for (let n = 1; n <= POLLS; n++) {
    clock.t += MINUTE;
    let summary: PollSummary;
    try {
      summary = await poll(deps, pollWindow(clock.t, 90_000, RESERVES));
    } catch (err) {
      problems.push(`poll ${n} threw ${String(err)}`);
      continue;
    }
    summaries.push(summary);
    problems.push(...summaryProblems(summary).map((p) => `poll ${n}: ${p}`));
    problems.push(...stateProblems(await stateStore.load(), clock.t).map((p) => `poll ${n}: ${p}`));
  }
  problems.push(...logProblems(logs), ...eventProblems(published));
  problems.push(...notices.map((n) => `alert sent: ${n}`));
  const distinct = [...new Set(problems)];
  expect({ problems: distinct.length, first: distinct.slice(0, 40) }).toEqual({ problems: 0, first: [] });

  // It did meet Together: every source listed, jobs followed, events of several kinds out.
  const checked = summaries.reduce(
    (sum, s) => sum + s.checked.fineTunes + s.checked.batches + s.checked.evaluations + s.checked.endpoints,
    0,
  );
  expect(summaries).toHaveLength(POLLS);
  expect(checked).toBeGreaterThan(POLLS);
  expect(summaries.reduce((n, s) => n + s.requests, 0)).toBeGreaterThan(POLLS * 5);
  expect(new Set(published.map((p) => p.detailType)).size).toBeGreaterThanOrEqual(3);
}, 120_000);
