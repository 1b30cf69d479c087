import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { gzipSync } from 'node:zlib';
import { deployedStack, fakeClock, STACK, stubCloudFormation } from '../support/aws-stack';
import { capture } from '../support/cli';

/** `status` against stubbed CloudFormation, DynamoDB, CloudWatch Logs and CloudWatch, in AWS's answer shapes. */

const NOW = Date.parse('2026-11-23T12:00:00Z');
const MIN = 60_000;
const d = deployedStack();
const table = d.physical('PlatformHooksDedupeTable');
const logGroup = d.physical('PlatformHooksPollerLogs');
/** The poller's items, named as lambda/poller/state.ts names them (written here by hand, to pin the format). */
const item = (part: string) => `poller#${d.stateScope}#${part}`;
const packed = (value: object) => ({ state: { B: gzipSync(JSON.stringify(value)) }, v: { N: '2' } });

const FINE_TUNES = {
  v: 2,
  since: NOW - 3 * 86_400_000,
  horizon: NOW - 86_400_000,
  listed: NOW - MIN,
  open: {
    'ft-run': { status: 'running', seen: NOW - 3_600_000 },
    'ft-done': {
      status: 'completed',
      seen: NOW - 3_600_000,
      finished: true,
      failures: 2,
      lastError: 'PublishError: EventBridge rejected the event: ThrottlingException',
    },
  },
  done: {},
};
const BATCHES = {
  v: 2,
  since: NOW - 86_400_000,
  horizon: NOW - 86_400_000,
  listed: NOW - MIN,
  open: {},
  done: {},
};

function pollLine(minutesAgo: number, extra: object) {
  const t = NOW - minutesAgo * MIN;
  const line = {
    level: 'INFO',
    message: 'poll',
    outcome: 'completed',
    published: 0,
    duplicates: 0,
    errors: 0,
    heldBack: 0,
    requests: 2,
    ...extra,
  };
  return {
    logStreamName: 's',
    timestamp: t,
    ingestionTime: t + 500,
    eventId: `e${minutesAgo}`,
    message: JSON.stringify(line),
  };
}

let cfn: ReturnType<typeof stubCloudFormation>;
const ddb = mockClient(DynamoDBClient);
const logs = mockClient(CloudWatchLogsClient);
const cw = mockClient(CloudWatchClient);

beforeEach(() => {
  cfn = stubCloudFormation();
  [ddb, logs, cw].forEach((m) => m.reset());
  ddb.on(GetItemCommand).resolves({});
  ddb
    .on(GetItemCommand, { Key: { id: { S: item('fine-tunes') } } })
    .resolves({ Item: { id: { S: item('fine-tunes') }, ...packed(FINE_TUNES) } });
  ddb
    .on(GetItemCommand, { Key: { id: { S: item('batches') } } })
    .resolves({ Item: { id: { S: item('batches') }, ...packed(BATCHES) } });
  // Oldest first, over two pages: the newest line is the last of the second.
  logs
    .on(FilterLogEventsCommand, { nextToken: undefined })
    .resolves({ events: [pollLine(3, {}), pollLine(2, {})], nextToken: 'more' })
    .on(FilterLogEventsCommand, { nextToken: 'more' })
    .resolves({
      events: [
        pollLine(1, {
          level: 'WARN',
          outcome: 'incomplete',
          reason: 'ft-done: PublishError: EventBridge rejected the event: ThrottlingException',
          heldBack: 1,
          errors: 1,
          failures: ['ft-done: PublishError: EventBridge rejected the event: ThrottlingException'],
        }),
      ],
    });
  cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
});
afterEach(() => cfn.restore());
afterAll(() => [ddb, logs, cw].forEach((m) => m.restore()));

async function status(...argv: string[]) {
  const c = capture({}, '', fakeClock(NOW));
  const code = await c.run('status', ...argv);
  return { code, out: c.out.join('\n'), err: c.err };
}

describe('status', () => {
  test('one screen: last poll, lease, followed per source, what is held back and why, alarms', async () => {
    const stopping = d.resources.find((r) =>
      r.LogicalResourceId?.startsWith('PlatformHooksPollerStoppingAlarm'),
    )!;
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: stopping.PhysicalResourceId,
          StateValue: 'ALARM',
          StateUpdatedTimestamp: new Date(NOW - 10 * MIN),
        },
      ],
    });
    const r = await status('--stack', STACK);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(`status of poller ${d.stateScope} (stack ${STACK}), table ${table}`);
    expect(r.out).toContain(
      '  last     2026-11-23T11:59:00Z (60 s ago): incomplete: ft-done: PublishError: EventBridge rejected the event: ThrottlingException',
    );
    expect(r.out).toContain('           published 0, duplicates 0, errors 1, held back 1, requests 2');
    expect(r.out).toContain('  lease    free (no poll running)');
    expect(r.out).toContain('  followed fine-tunes 2 (listed 60 s ago), batches 0 (listed 60 s ago)');
    expect(r.out).toContain(
      '  held     1 job(s):\n    fine-tunes ft-done: completed, finished, not delivered, 2 failure(s): PublishError',
    );
    expect(r.out).toContain(
      `  alarms   1 in ALARM:\n    ${stopping.PhysicalResourceId} since 2026-11-23T11:50:00Z`,
    );
    expect(lines.length).toBeLessThan(25);
    // The alarms by the names the stack gave them, ALARM only; the log read from 2 minutes back first.
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toMatchObject({
      StateValue: 'ALARM',
      AlarmNames: expect.arrayContaining([stopping.PhysicalResourceId]),
    });
    expect(logs.commandCalls(FilterLogEventsCommand)[0].args[0].input).toEqual({
      logGroupName: logGroup,
      startTime: NOW - 2 * MIN,
      filterPattern: '{ $.message = "poll" }',
      nextToken: undefined,
    });
  });

  test('a poll running now: the lease and its holder; an API key incident; no alarm', async () => {
    ddb.on(GetItemCommand, { Key: { id: { S: item('lease') } } }).resolves({
      Item: {
        id: { S: item('lease') },
        holder: { S: 'tok-9' },
        lease_until: { N: String(NOW + 90_000) },
        expiration: { N: '1' },
      },
    });
    ddb.on(GetItemCommand, { Key: { id: { S: item('health') } } }).resolves({
      Item: {
        id: { S: item('health') },
        ...packed({ v: 2, authIncident: { openedAt: '2026-11-23T11:00:00Z', status: 401 } }),
      },
    });
    const r = await status('--stack', STACK);
    expect(r.out).toContain('  lease    held by tok-9 until 2026-11-23T12:01:30Z: a poll is running');
    expect(r.out).toContain('  key      Together refused the API key since 2026-11-23T11:00:00Z (HTTP 401)');
    expect(r.out).toContain('  alarms   none in ALARM');
  });

  test('no poll line in the window, a state part not gzipped: both said, exit 0', async () => {
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    ddb
      .on(GetItemCommand, { Key: { id: { S: item('batches') } } })
      .resolves({ Item: { id: { S: item('batches') }, state: { B: Buffer.from('{}') } } });
    const r = await status('--stack', STACK, '--lookback', '10');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`  last     no poll in the last 10 min in ${logGroup}: is its schedule on?`);
    expect(r.out).toMatch(/ {2}warning {2}state batches: not gzipped JSON/);
  });

  test('the last poll line searched backwards in widening windows (2 min, 10, --lookback): none in any is "no poll"', async () => {
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    const r = await status('--stack', STACK);
    expect(r.out).toContain(`  last     no poll in the last 30 min in ${logGroup}: is its schedule on?`);
    expect(logs.commandCalls(FilterLogEventsCommand).map((c) => c.args[0].input.startTime)).toEqual([
      NOW - 2 * MIN,
      NOW - 10 * MIN,
      NOW - 30 * MIN,
    ]);
  });

  test('FilterLogEvents answering empty pages with a nextToken (it does, scanning streams): the poll on page 7 is found, not "is its schedule on?"', async () => {
    let n = 0;
    logs.on(FilterLogEventsCommand).callsFake(() => {
      n++;
      return n < 7 ? { events: [], nextToken: `t${n}` } : { events: [pollLine(1, {})] };
    });
    const r = await status('--stack', STACK);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('is its schedule on?');
    expect(r.out).toContain('  last     2026-11-23T11:59:00Z (60 s ago): completed');
  });

  test('empty pages with a nextToken past the bound: "not found within N pages (search cut short)", never "no poll"', async () => {
    logs.on(FilterLogEventsCommand).resolves({ events: [], nextToken: 'again' });
    const r = await status('--stack', STACK);
    expect(r.out).toContain(
      `  last     no poll line found within 10 pages of the last 2 min in ${logGroup} (search cut short: ` +
        'FilterLogEvents was still scanning; try again, or --lookback smaller)',
    );
    expect(r.out).not.toContain('is its schedule on?');
    expect(logs.commandCalls(FilterLogEventsCommand)).toHaveLength(10);
  });

  test('explicit flags without a stack: the state only, and what was not looked up', async () => {
    const r = await status('--table', table, '--poller-scope', d.stateScope);
    expect(r.code).toBe(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(r.out).toContain('  last     not looked up: give --stack or --log-group');
    expect(r.out).toContain('  alarms   not looked up: give --stack or --alarm-prefix');
    expect(r.out).toContain('  followed fine-tunes 2');
  });

  test('--alarm-prefix: the alarms by prefix', async () => {
    await status(
      '--table',
      table,
      '--poller-scope',
      d.stateScope,
      '--alarm-prefix',
      'MlPlatform-PlatformHooks',
    );
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toMatchObject({
      AlarmNamePrefix: 'MlPlatform-PlatformHooks',
      StateValue: 'ALARM',
    });
  });

  test('--alarm-prefix: every page of DescribeAlarms is read (NextToken); the page bound hit is said', async () => {
    const alarm = (name: string) => ({ AlarmName: name, StateValue: 'ALARM' as const });
    cw.on(DescribeAlarmsCommand, { NextToken: undefined })
      .resolves({
        MetricAlarms: Array.from({ length: 100 }, (_, i) => alarm(`Ml-Other${i}`)),
        NextToken: 'p2',
      })
      .on(DescribeAlarmsCommand, { NextToken: 'p2' })
      .resolves({ MetricAlarms: [alarm('Ml-PlatformHooksPollerStoppingAlarm')] });
    const r = await status('--table', table, '--poller-scope', d.stateScope, '--alarm-prefix', 'Ml-');
    expect(r.out).toContain('  alarms   101 in ALARM:');
    expect(r.out).toContain('    Ml-PlatformHooksPollerStoppingAlarm');
    cw.reset();
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [alarm('Ml-Again')], NextToken: 'again' });
    const endless = await status('--table', table, '--poller-scope', d.stateScope, '--alarm-prefix', 'Ml-');
    expect(cw.commandCalls(DescribeAlarmsCommand)).toHaveLength(10);
    expect(endless.out).toContain('  alarms   10 or more in ALARM:');
    expect(endless.out).toContain('           more not read: DescribeAlarms stopped at 10 pages');
  });

  test('the alarms by name: each request read to its last page too', async () => {
    cw.on(DescribeAlarmsCommand, { NextToken: undefined })
      .resolves({ MetricAlarms: [], NextToken: 'p2' })
      .on(DescribeAlarmsCommand, { NextToken: 'p2' })
      .resolves({ MetricAlarms: [{ AlarmName: 'late-page', StateValue: 'ALARM' }] });
    const r = await status('--stack', STACK);
    expect(r.out).toContain('  alarms   1 in ALARM:\n    late-page');
  });

  test('logs and alarms failing are said in their line; the table failing: exit 1, one line', async () => {
    logs.on(FilterLogEventsCommand).rejects(
      Object.assign(new Error('The specified log group does not exist.'), {
        name: 'ResourceNotFoundException',
      }),
    );
    cw.on(DescribeAlarmsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const r = await status('--stack', STACK);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `  last     log group ${logGroup}: ResourceNotFoundException: The specified log group does not exist.`,
    );
    expect(r.out).toContain('  alarms   Throttling: Rate exceeded');
    ddb
      .on(GetItemCommand)
      .rejects(
        Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' }),
      );
    const broken = await status('--stack', STACK);
    expect(broken.code).toBe(1);
    expect(broken.err).toEqual([
      `together-webhooks status: table ${table}: ResourceNotFoundException: Requested resource not found`,
    ]);
  });

  test.each([
    [['extra'], 'takes no arguments, got "extra"'],
    [[], 'needs --stack NAME or --table (the dedupe table)'],
    [['--table', 't'], 'needs --stack NAME or --poller-scope'],
    [
      ['--table', 't', '--poller-scope', 'p', '--lookback', '0'],
      '--lookback must be a whole number from 1 to 1440',
    ],
  ])('%j: exit 2, %s', async (argv, message) => {
    const r = await status(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringContaining(`together-webhooks status: ${message}`)]);
  });
});
