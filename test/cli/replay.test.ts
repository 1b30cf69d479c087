import {
  DescribeArchiveCommand,
  DescribeReplayCommand,
  EventBridgeClient,
  ListRulesCommand,
  ResourceAlreadyExistsException,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import {
  archiveArn,
  archiveRule,
  busArn,
  busRulesAnswer,
  deployedStack,
  fakeClock,
  recordingAws,
  STACK,
  stubCloudFormation,
} from '../support/aws-stack';
import { capture } from '../support/cli';

/** `replay` against stubbed CloudFormation and EventBridge answering as AWS documents; the clock is a fake one. */

const NOW = Date.parse('2026-11-23T12:00:00Z');
const d = deployedStack();
const archiveName = d.physical('PlatformHooksArchive');
const busName = d.physical('PlatformHooksBus');
const rules = busRulesAnswer();
const ruleArn = (prefix: string) => rules.find((r) => r.Name!.startsWith(`${STACK}-${prefix}`))!.Arn!;
const userRule = {
  Name: 'every-together-event',
  Arn: `arn:aws:events:us-east-1:111111111111:rule/${busName}/every-together-event`,
  EventPattern: '{"source":["together.ai"]}',
  State: 'ENABLED' as const,
  EventBusName: busName,
};

let cfn: ReturnType<typeof stubCloudFormation>;
const eb = mockClient(EventBridgeClient);

beforeEach(() => {
  cfn = stubCloudFormation();
  eb.reset();
  eb.on(DescribeArchiveCommand, { ArchiveName: archiveName }).resolves({
    ArchiveArn: archiveArn(),
    ArchiveName: archiveName,
    EventSourceArn: busArn(),
    State: 'ENABLED',
    RetentionDays: 30,
    EventCount: 1200,
  });
  // Two pages, the archive's own managed rule among them.
  eb.on(ListRulesCommand, { EventBusName: busName, NextToken: undefined })
    .resolves({ Rules: [archiveRule(), ...rules.slice(0, 3)], NextToken: 'next' })
    .on(ListRulesCommand, { EventBusName: busName, NextToken: 'next' })
    .resolves({ Rules: [...rules.slice(3), userRule] });
  eb.on(StartReplayCommand).resolves({
    ReplayArn: 'arn:aws:events:us-east-1:111111111111:replay/r',
    State: 'STARTING',
    ReplayStartTime: new Date(NOW),
  });
});
afterEach(() => cfn.restore());
afterAll(() => eb.restore());

function run(...argv: string[]) {
  const clock = fakeClock(NOW);
  const aws = recordingAws();
  const c = capture({}, '', clock, aws.factory);
  return { c, clock, aws, code: c.run('replay', ...argv) };
}

describe('replay', () => {
  test('--dry-run: the window, the archive, the bus and the Route rule of the type; the aws command; starts nothing', async () => {
    const r = run('--stack', STACK, '--since', '2h', '--type', 'fine_tune.completed', '--dry-run');
    expect(await r.code).toBe(0);
    const text = r.c.err.join('\n');
    expect(text).toContain('window   2026-11-23T10:00:00Z .. 2026-11-23T12:00:00Z');
    expect(text).toContain(`from     ${archiveArn()}`);
    expect(text).toContain(`to       ${busArn()}, 1 rule(s):`);
    expect(text).toContain('PlatformHooksRouteFineTuneCompleted');
    expect(text).toContain(
      '  left out every-together-event: it would also receive every other Together type (it names no detail-type) ' +
        '(--include-wider-rules)',
    );
    expect(text).toContain(
      `aws events start-replay --replay-name together-20261123T120000 --event-source-arn ${archiveArn()}`,
    );
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
    expect(r.c.out).toEqual([]);
  });

  test('starts the replay to those rules, follows it to COMPLETED without really waiting, says how handlers see it', async () => {
    eb.on(DescribeReplayCommand, { ReplayName: 'fix-1' })
      .resolvesOnce({ State: 'STARTING' })
      .resolvesOnce({ State: 'RUNNING', EventLastReplayedTime: new Date('2026-11-23T10:30:00Z') })
      .resolvesOnce({ State: 'RUNNING', EventLastReplayedTime: new Date('2026-11-23T10:30:00Z') })
      .resolves({ State: 'COMPLETED', EventLastReplayedTime: new Date('2026-11-23T11:59:00Z') });
    const r = run(
      '--stack',
      STACK,
      '--since',
      '2026-11-23T10:00:00Z',
      '--until',
      '2026-11-23T12:00:00Z',
      '--type',
      'fine_tune.completed',
      '--type',
      'fine_tune.failed',
      '--name',
      'fix-1',
      '--region',
      'eu-west-1',
    );
    expect(await r.code).toBe(0);
    expect(eb.commandCalls(StartReplayCommand).map((c) => c.args[0].input)).toEqual([
      {
        ReplayName: 'fix-1',
        EventSourceArn: archiveArn(),
        EventStartTime: new Date('2026-11-23T10:00:00Z'),
        EventEndTime: new Date('2026-11-23T12:00:00Z'),
        // fine_tune.failed's rule is an alert rule: left out, so no alert goes out twice; the catch-all too.
        Destination: { Arn: busArn(), FilterArns: [ruleArn('PlatformHooksRouteFineTuneCompleted')] },
      },
    ]);
    expect(r.clock.slept).toEqual([5000, 5000, 5000]);
    const text = r.c.err.join('\n');
    expect(text).toContain('  STARTING');
    expect(text).toContain('  RUNNING: replayed up to 2026-11-23T10:30:00Z (25% of the window)');
    expect(text.match(/25% of the window/g)).toHaveLength(1);
    expect(text).toContain('  COMPLETED: replayed up to 2026-11-23T11:59:00Z (99% of the window)');
    expect(text).toContain('"replay-name": "fix-1"');
    expect(text).toContain('the same\ndetail.outcome_key');
    expect(text).toContain('The dedupe table did not stop it');
    expect(r.c.out.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        replay: 'fix-1',
        state: 'COMPLETED',
        rules: [rules.find((x) => x.Arn === ruleArn('PlatformHooksRouteFineTuneCompleted'))!.Name],
      },
    ]);
    expect(r.aws.calls).toEqual([{ region: 'eu-west-1', profile: undefined }]);
  });

  test('no --type: every Route rule of the bus, no alert rule, not the archive rule', async () => {
    const r = run('--stack', STACK, '--since', '1d', '--dry-run');
    expect(await r.code).toBe(0);
    const text = r.c.err.join('\n');
    expect(text).toContain('every Together type');
    expect(text).not.toMatch(/Alert|Events-Archive/);
    expect(text).toContain('PlatformHooksRouteFineTuneCompleted');
  });

  test('a window older than the archive keeps: the plan says what is gone', async () => {
    const r = run('--stack', STACK, '--since', '40d', '--dry-run');
    expect(await r.code).toBe(0);
    expect(r.c.err).toContain(
      '  note     the archive keeps 30 days: events before about 2026-10-24T12:00:00Z are gone',
    );
  });

  test('DescribeReplay failing: exit 1, one line, the replay goes on', async () => {
    eb.on(DescribeReplayCommand).rejects(
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
    );
    const r = run('--archive', archiveName, '--since', '2h', '--name', 'x');
    expect(await r.code).toBe(1);
    expect(r.c.err.at(-1)).toBe(
      'together-webhooks replay: could not read the state of replay x: ThrottlingException: Rate exceeded; it goes ' +
        'on: aws events describe-replay --replay-name x',
    );
  });

  test('FAILED: exit 1 with its reason', async () => {
    eb.on(DescribeReplayCommand).resolves({ State: 'FAILED', StateReason: 'Destination rule was deleted' });
    const r = run('--archive', archiveName, '--since', '2h', '--name', 'x');
    expect(await r.code).toBe(1);
    expect(r.c.err.at(-1)).toBe('together-webhooks replay: replay x FAILED: Destination rule was deleted');
  });

  test('still running at --timeout: exit 1, it goes on, bounded polls', async () => {
    eb.on(DescribeReplayCommand).resolves({ State: 'RUNNING' });
    const r = run('--archive', archiveName, '--since', '2h', '--name', 'slow', '--timeout', '60');
    expect(await r.code).toBe(1);
    expect(r.c.err.at(-1)).toBe(
      'together-webhooks replay: still RUNNING after 60 s; it goes on: aws events describe-replay --replay-name slow',
    );
    expect(eb.commandCalls(DescribeReplayCommand).length).toBeLessThanOrEqual(13);
  });

  test('a type only a catch-all rule takes: left out, named, exit 1; --include-wider-rules sends it there alone; a type nothing routes: exit 1', async () => {
    const r = run('--stack', STACK, '--since', '2h', '--type', 'batch.done', '--dry-run');
    expect(await r.code).toBe(1);
    expect(r.c.err).toEqual([
      `together-webhooks replay: no rule on bus ${busName} routes batch.done: nothing would receive the replay ` +
        '(alert rules are left out; every-together-event: it would also receive every other Together type (it names ' +
        'no detail-type) (--include-wider-rules))',
    ]);
    const wide = run(
      '--stack',
      STACK,
      '--since',
      '2h',
      '--type',
      'batch.done',
      '--include-wider-rules',
      '--dry-run',
    );
    expect(await wide.code).toBe(0);
    expect(wide.c.err.join('\n')).toMatch(
      /1 rule\(s\):\n {4}every-together-event \(it also receives the window's every other Together type \(it names no detail-type\)\)$/m,
    );
    eb.on(ListRulesCommand).resolves({ Rules: rules });
    const again = run('--stack', STACK, '--since', '2h', '--type', 'batch.done');
    expect(await again.code).toBe(1);
    expect(again.c.err).toEqual([
      `together-webhooks replay: no rule on bus ${busName} routes batch.done: nothing would receive the replay ` +
        '(alert rules are left out)',
    ]);
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
  });

  test('--type: a rule taking other types too is left out and named with them, a disabled rule too; --include-wider-rules puts the wider one back, saying what else it receives', async () => {
    const rule = (name: string, pattern: object, state: 'ENABLED' | 'DISABLED' = 'ENABLED') => ({
      Name: name,
      Arn: `arn:aws:events:us-east-1:111111111111:rule/${busName}/${name}`,
      EventPattern: JSON.stringify(pattern),
      State: state,
      EventBusName: busName,
    });
    const onlyCompleted = rule('on-completed', {
      source: ['together.ai'],
      'detail-type': ['fine_tune.completed'],
    });
    const both = rule('fine-tune-ends', {
      source: ['together.ai'],
      'detail-type': ['fine_tune.completed', 'fine_tune.failed'],
    });
    const off = rule(
      'paused',
      { source: ['together.ai'], 'detail-type': ['fine_tune.completed'] },
      'DISABLED',
    );
    eb.on(ListRulesCommand).resolves({ Rules: [userRule, both, onlyCompleted, off] });
    const r = run('--stack', STACK, '--since', '2h', '--type', 'fine_tune.completed', '--name', 'n');
    eb.on(DescribeReplayCommand).resolves({ State: 'COMPLETED' });
    expect(await r.code).toBe(0);
    expect(eb.commandCalls(StartReplayCommand)[0].args[0].input.Destination!.FilterArns).toEqual([
      onlyCompleted.Arn,
    ]);
    expect(r.c.err).toEqual(
      expect.arrayContaining([
        '  left out every-together-event: it would also receive every other Together type (it names no ' +
          'detail-type) (--include-wider-rules)',
        '  left out fine-tune-ends: it would also receive other types: fine_tune.failed (--include-wider-rules)',
        '  left out paused: disabled: it would receive nothing',
      ]),
    );
    const wide = run(
      '--stack',
      STACK,
      '--since',
      '2h',
      '--type',
      'fine_tune.completed',
      '--include-wider-rules',
      '--dry-run',
    );
    expect(await wide.code).toBe(0);
    const text = wide.c.err.join('\n');
    expect(text).toContain('3 rule(s):');
    expect(text).toContain(
      "    fine-tune-ends (it also receives the window's other types: fine_tune.failed)",
    );
    expect(text).toContain('  left out paused: disabled');
  });

  test('rules judged as EventBridge does: a prefix rule taking exactly the type is replayed to, a wider one names its other types, a pattern not understood is left out as such', async () => {
    const rule = (name: string, detailType: unknown[]) => ({
      Name: name,
      Arn: `arn:aws:events:us-east-1:111111111111:rule/${busName}/${name}`,
      EventPattern: JSON.stringify({ source: ['together.ai'], 'detail-type': detailType }),
      State: 'ENABLED' as const,
      EventBusName: busName,
    });
    eb.on(ListRulesCommand).resolves({
      Rules: [
        rule('batch-done', [{ prefix: 'batch.do' }]),
        rule('batches', [{ prefix: 'batch.' }]),
        rule('numeric', [{ numeric: ['>', 0] }]),
      ],
    });
    const r = run('--stack', STACK, '--since', '2h', '--type', 'batch.done', '--dry-run');
    expect(await r.code).toBe(0);
    expect(r.c.err).toEqual(
      expect.arrayContaining([
        '    batch-done',
        '  left out batches: it would also receive other types: batch.collected (--include-wider-rules)',
        '  left out numeric: it would also receive other types, perhaps (pattern not understood) (--include-wider-rules)',
      ]),
    );
  });

  test('StartReplay refused: exit 1, one line', async () => {
    eb.on(StartReplayCommand).rejects(
      new ResourceAlreadyExistsException({ message: 'Replay fix-1 already exists.', $metadata: {} }),
    );
    const r = run('--archive', archiveName, '--since', '2h', '--name', 'fix-1');
    expect(await r.code).toBe(1);
    expect(r.c.err).toEqual([
      expect.stringContaining('replay fix-1'),
      expect.anything(),
      expect.anything(),
      expect.anything(),
      expect.anything(),
      expect.anything(),
      'together-webhooks replay: could not start replay fix-1: ResourceAlreadyExistsException: Replay fix-1 already exists.',
    ]);
  });

  test.each([
    [[], '--since is required'],
    [['--since', 'yesterday'], '--since must be an ISO 8601 time with its zone'],
    [['--since', '2026-11-23T10:00:00'], '--since must be an ISO 8601 time with its zone'],
    [
      ['--since', '1h', '--until', '2h'],
      '--since (2026-11-23T11:00:00Z) must be before --until (2026-11-23T10:00:00Z)',
    ],
    [
      ['--since', '1h', '--type', 'fine_tune.complete'],
      'unknown --type fine_tune.complete; one of: fine_tune.completed',
    ],
    [['--since', '1h', '--name', 'has space'], '--name must be 1-64'],
    [
      ['--since', '9999999999d'],
      '--since "9999999999d" is out of range: it must fall between 2000-01-01T00:00:00Z',
    ],
    [['--since', '1999-12-31T23:00:00Z'], '--since "1999-12-31T23:00:00Z" is out of range'],
    [['--since', '2h', '--until', '9999999999d'], '--until "9999999999d" is out of range'],
    [['--since', '2h', '--until', '2027-01-01T00:00:00Z'], '--until "2027-01-01T00:00:00Z" is out of range'],
    [
      ['--since', '2h', '--until', '2026-11-23T12:03:00Z'],
      '--until (2026-11-23T12:03:00Z) is in the future: a replay ends at now at the latest',
    ],
    [['--since', '1h'], 'needs --stack NAME or --archive (the archive)'],
  ])('%j: exit 2, %s', async (argv, message) => {
    const r = run(...argv);
    expect(await r.code).toBe(2);
    expect(r.c.err).toEqual([expect.stringContaining(`together-webhooks replay: ${message}`)]);
  });
});

test.each([[['--since', '2h', '--until', '9999999999d']], [['--since', '9999999999d', '--dry-run']]])(
  'replay %j, a time out of range: exit 2 with a usage line before any AWS call, not a RangeError',
  async (argv) => {
    let awsAsked = false;
    const noAws = () => {
      awsAsked = true;
      throw new Error('no AWS call expected');
    };
    const c = capture({}, '', fakeClock(NOW), noAws as never);
    const code = await c.run('replay', '--archive', 'a', ...argv);
    expect(c.err).toEqual([expect.stringMatching(/^together-webhooks replay: --(since|until) /)]);
    expect(code).toBe(2);
    expect(awsAsked).toBe(false);
  },
);
