import { DescribeAlarmsCommand, MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoPollerStateStore, JobSourceState, PollerState, stateKey } from '../../lambda/poller/state';
import { JOB_SOURCES } from '../../lambda/poller/sources';
import { realClock } from '../../lambda/shared/together-api';
import { flag, ParsedArgs, positiveInt, UsageError } from './args';
import { AwsClients, awsError, awsOptions, realAws } from './aws';
import { Io } from './io';
import { findResources, need, Resources } from './stack';
import { ago, iso } from './times';

/**
 * `status`: the poller's health on one screen. Its state items (`poller#<scope>#<part>`, gzipped JSON: read
 * with the poller's own store, read only) give the followed jobs per source, what is held back and why, and an
 * open key incident; the lease item says whether a poll runs now; the last `poll` log line (FilterLogEvents over
 * the last 2 min, then 10, then --lookback, a few pages each at most) gives the last poll's result;
 * DescribeAlarms, the construct's alarms in ALARM.
 */

/** The windows searched backwards for the last poll line (then --lookback), each to this many pages at most. */
const WINDOWS_MS = [2 * 60_000, 10 * 60_000];
const MAX_LOG_PAGES = 10;
const HELD_BACK_SHOWN = 5;
/** DescribeAlarms pages read per request (100 alarms each). */
const MAX_ALARM_PAGES = 10;

export async function status(args: ParsedArgs, io: Io): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(`takes no arguments, got "${args.positionals[0]}"`);
  const nowMs = (io.clock ?? realClock).now();
  const lookbackMs = positiveInt(args, 'lookback', 30, 1440) * 60_000;
  const aws = (io.aws ?? realAws)(awsOptions(args));
  const res = await findResources(args, aws.cloudFormation);
  const table = need(res, 'tableName', 'table');
  const scope = need(res, 'pollerScope', 'poller-scope');
  const warnings: string[] = [];
  const store = new DynamoPollerStateStore(aws.dynamodb, table, scope, (part, why) =>
    warnings.push(`state ${part}: ${why}`),
  );
  const [state, lease, lastPoll, alarms] = await Promise.all([
    store.load().catch((err: unknown) => {
      throw new Error(`table ${table}: ${awsError(err)}`, { cause: err });
    }),
    readLease(aws.dynamodb, table, scope),
    lastPollLine(aws.logs, res.pollerLogGroup, nowMs, lookbackMs),
    alarmsInAlarm(aws, res, flag(args, 'alarm-prefix')),
  ]);
  const lines = [
    `status of poller ${scope}${res.stack ? ` (stack ${res.stack})` : ''}, table ${table}`,
    ...describeLastPoll(lastPoll, res, nowMs, lookbackMs),
    describeLease(lease, nowMs),
    ...describeSources(state, nowMs),
    ...describeHealth(state),
    ...alarms,
    ...warnings.map((w) => `  warning  ${w}`),
  ];
  io.out(lines.join('\n'));
  return 0;
}

interface Lease {
  readonly holder?: string;
  readonly untilMs?: number;
}

async function readLease(ddb: DynamoDBClient, table: string, scope: string): Promise<Lease | undefined> {
  const got = await ddb
    .send(
      new GetItemCommand({
        TableName: table,
        Key: { id: { S: stateKey(scope, 'lease') } },
        ConsistentRead: true,
      }),
    )
    .catch((err: unknown) => {
      throw new Error(`table ${table}: ${awsError(err)}`, { cause: err });
    });
  if (!got.Item) return undefined;
  return { holder: got.Item.holder?.S, untilMs: Number(got.Item.lease_until?.N) || undefined };
}

function describeLease(lease: Lease | undefined, nowMs: number): string {
  if (!lease) return '  lease    free (no poll running)';
  const until = lease.untilMs ?? 0;
  if (until >= nowMs)
    return `  lease    held by ${lease.holder ?? '?'} until ${iso(until)}: a poll is running`;
  return `  lease    free (a poll that ended ${ago(until, nowMs)} left it; the next one takes it)`;
}

type PollLine = { timestamp: number; line: Record<string, unknown> } | { error: string } | undefined;

/**
 * The newest `poll` line of the last `lookbackMs`, or why there is none. FilterLogEvents may answer empty pages with
 * a nextToken while it scans streams, so the search goes backwards in widening windows (2 min, 10 min, --lookback),
 * each read to its end or to MAX_LOG_PAGES pages, and stops at the first window holding one: the newest line of
 * that window. A window cut short by the bound with none in it ends the search: nothing says there is no poll.
 */
async function lastPollLine(
  logs: CloudWatchLogsClient,
  group: string | undefined,
  nowMs: number,
  lookbackMs: number,
): Promise<PollLine> {
  if (!group) return undefined;
  const windows = [...new Set([...WINDOWS_MS.filter((w) => w < lookbackMs), lookbackMs])];
  let newest: { timestamp: number; message: string } | undefined;
  try {
    for (const windowMs of windows) {
      let token: string | undefined;
      let page = 0;
      do {
        const got = await logs.send(
          new FilterLogEventsCommand({
            logGroupName: group,
            startTime: nowMs - windowMs,
            filterPattern: '{ $.message = "poll" }',
            nextToken: token,
          }),
        );
        for (const e of got.events ?? [])
          if (e.timestamp !== undefined && e.message && (!newest || e.timestamp >= newest.timestamp))
            newest = { timestamp: e.timestamp, message: e.message };
        token = got.nextToken;
      } while (token && ++page < MAX_LOG_PAGES);
      if (newest) break;
      if (token)
        return {
          error:
            `no poll line found within ${MAX_LOG_PAGES} pages of the last ${windowMs / 60_000} min in ${group} ` +
            '(search cut short: FilterLogEvents was still scanning; try again, or --lookback smaller)',
        };
    }
  } catch (err) {
    return { error: `log group ${group}: ${awsError(err)}` };
  }
  if (!newest) return { error: 'none' };
  try {
    return { timestamp: newest.timestamp, line: JSON.parse(newest.message) as Record<string, unknown> };
  } catch {
    return { error: `the newest poll line in ${group} is not JSON` };
  }
}

function describeLastPoll(poll: PollLine, res: Resources, nowMs: number, lookbackMs: number): string[] {
  if (!poll) return ['  last     not looked up: give --stack or --log-group (the poller’s log group)'];
  if ('error' in poll)
    return [
      poll.error === 'none'
        ? `  last     no poll in the last ${lookbackMs / 60_000} min in ${res.pollerLogGroup}: is its schedule on?`
        : `  last     ${poll.error}`,
    ];
  const l = poll.line;
  const lines = [
    `  last     ${iso(poll.timestamp)} (${ago(poll.timestamp, nowMs)}): ${String(l.outcome)}` +
      `${l.reason ? `: ${String(l.reason)}` : ''}`,
    `           published ${num(l.published)}, duplicates ${num(l.duplicates)}, errors ${num(l.errors)}, ` +
      `held back ${num(l.heldBack)}, requests ${num(l.requests)}`,
  ];
  // The reason is the first failure, when there is one: the others are the news.
  const failures = (Array.isArray(l.failures) ? l.failures.map(String) : []).filter((f) => f !== l.reason);
  if (failures.length)
    lines.push(
      `           failures: ${failures.slice(0, 3).join('; ')}${failures.length > 3 ? '; ...' : ''}`,
    );
  if (Array.isArray(l.incomplete) && l.incomplete.length)
    lines.push(`           listings incomplete: ${l.incomplete.map(String).join('; ')}`);
  return lines;
}

function num(value: unknown): string {
  return typeof value === 'number' ? String(value) : '?';
}

/** Per source: jobs followed, when it was last listed, and the finished ones not yet delivered, with why. */
function describeSources(state: PollerState, nowMs: number): string[] {
  const rows: string[] = [];
  const held: string[] = [];
  for (const source of JOB_SOURCES) {
    const part = state[source.key] as JobSourceState | undefined;
    if (!part) continue;
    const open = Object.entries(part.open);
    const listed = part.listed ? `listed ${ago(part.listed, nowMs)}` : 'never listed';
    rows.push(`${source.item} ${open.length} (${listed})`);
    for (const [id, job] of open)
      if (job.finished || job.failures)
        held.push(
          `${source.item} ${id}: ${job.status}${job.finished ? ', finished, not delivered' : ''}` +
            `${job.failures ? `, ${job.failures} failure(s)` : ''}${job.lastError ? `: ${job.lastError}` : ''}`,
        );
  }
  const lines = [
    `  followed ${rows.length ? rows.join(', ') : 'no state yet: the poller has not saved any'}`,
  ];
  if (state.models) lines.push(`  models   ${Object.keys(state.models.models).length} watched`);
  lines.push(`  held     ${held.length === 0 ? 'nothing held back' : `${held.length} job(s):`}`);
  for (const h of held.slice(0, HELD_BACK_SHOWN)) lines.push(`    ${h}`);
  if (held.length > HELD_BACK_SHOWN) lines.push(`    ... and ${held.length - HELD_BACK_SHOWN} more`);
  return lines;
}

function describeHealth(state: PollerState): string[] {
  const incident = state.health?.authIncident;
  if (!incident) return [];
  return [
    `  key      Together refused the API key since ${incident.openedAt} (HTTP ${incident.status}): ` +
      'put the new key in its secret; the next poll uses it',
  ];
}

/** The construct's alarms in ALARM: by name from the stack, or by --alarm-prefix. */
async function alarmsInAlarm(aws: AwsClients, res: Resources, prefix: string | undefined): Promise<string[]> {
  const names = res.alarmNames ?? [];
  if (!prefix && names.length === 0) return ['  alarms   not looked up: give --stack or --alarm-prefix'];
  const found: MetricAlarm[] = [];
  let cut = false;
  try {
    // DescribeAlarms takes 100 names a call (the construct has ten alarms at most); each request read page by page.
    const requests = prefix
      ? [{ AlarmNamePrefix: prefix }]
      : Array.from({ length: Math.ceil(names.length / 100) }, (_, i) => ({
          AlarmNames: names.slice(i * 100, i * 100 + 100),
        }));
    for (const request of requests) {
      let token: string | undefined;
      let page = 0;
      do {
        const got = await aws.cloudWatch.send(
          new DescribeAlarmsCommand({
            ...request,
            StateValue: 'ALARM',
            AlarmTypes: ['MetricAlarm'],
            MaxRecords: 100,
            NextToken: token,
          }),
        );
        found.push(...(got.MetricAlarms ?? []));
        token = got.NextToken;
      } while (token && ++page < MAX_ALARM_PAGES);
      if (token) cut = true;
    }
  } catch (err) {
    return [`  alarms   ${awsError(err)}`];
  }
  const more = cut ? [`           more not read: DescribeAlarms stopped at ${MAX_ALARM_PAGES} pages`] : [];
  if (found.length === 0)
    return [cut ? '  alarms   none read in ALARM' : '  alarms   none in ALARM', ...more];
  return [
    `  alarms   ${found.length}${cut ? ' or more' : ''} in ALARM:`,
    ...found.map(
      (a) =>
        `    ${a.AlarmName ?? '?'}${a.StateUpdatedTimestamp ? ` since ${iso(a.StateUpdatedTimestamp.getTime())}` : ''}`,
    ),
    ...more,
  ];
}
