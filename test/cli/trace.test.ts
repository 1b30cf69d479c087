import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, ListRulesCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { EVENT_TYPES, eventSpec } from '../../lib/events';
import { busRulesAnswer, deployedStack, fakeClock, STACK, stubCloudFormation } from '../support/aws-stack';
import { capture } from '../support/cli';

/** `trace` against stubbed CloudFormation, DynamoDB, EventBridge and SQS answering in AWS's shapes. */

const NOW = Date.parse('2026-11-23T12:00:00Z');
const d = deployedStack();
const table = d.physical('PlatformHooksDedupeTable');
const dlq = d.physical('PlatformHooksDeadLetterQueue');
const claimId = (key: string) => `o#${d.claimScope}#${key}`;
/** Published 2 hours ago: claim and completion set expiration to then plus the 7-day retention. */
const PUBLISHED = NOW - 2 * 3_600_000;

function claimItem(key: string, status: string, delivery: string, receipt = true) {
  return {
    ...(status === 'COMPLETED' && receipt
      ? {
          event_id: { S: '6f1d2c3b-4a59-4e68-9d7c-0b1a2f3e4d5c' },
          published_at: { N: String(PUBLISHED + 1_200) },
        }
      : {}),
    id: { S: claimId(key) },
    status: { S: status },
    expiration: { N: String(Math.floor(PUBLISHED / 1000) + 7 * 86_400) },
    delivery_id: { S: delivery },
    payload_hash: { S: 'ab12' },
    claim_token: { S: 'tok-1' },
    ...(status === 'INPROGRESS' ? { in_progress_expiry: { N: String(NOW + 60_000) } } : {}),
  };
}

let cfn: ReturnType<typeof stubCloudFormation>;
const ddb = mockClient(DynamoDBClient);
const eb = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);

beforeEach(() => {
  cfn = stubCloudFormation();
  [ddb, eb, sqs].forEach((m) => m.reset());
  ddb.on(GetItemCommand).resolves({});
  eb.on(ListRulesCommand).resolves({ Rules: busRulesAnswer() });
  sqs.on(GetQueueAttributesCommand).resolves({
    Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
  });
});
afterEach(() => cfn.restore());
afterAll(() => [ddb, eb, sqs].forEach((m) => m.restore()));

async function trace(...argv: string[]) {
  const c = capture({}, '', fakeClock(NOW));
  const code = await c.run('trace', ...argv);
  return { code, out: c.out.join('\n'), err: c.err };
}

describe('trace', () => {
  test('an outcome key the poller published: its claim, when, its rules, the queue; one screen', async () => {
    const key = 'fine_tune.completed:ft-abc';
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'COMPLETED', key) });
    const r = await trace(key, '--stack', STACK);
    expect(r.code).toBe(0);
    expect(ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input)).toEqual([
      { TableName: table, Key: { id: { S: claimId(key) } }, ConsistentRead: true },
    ]);
    expect(r.out).toContain(`trace ${key}  (table ${table}, claims o#${d.claimScope}#...)`);
    expect(r.out).toContain('    claim    COMPLETED, by the poller\n');
    expect(r.out).toContain(
      '    at       2026-11-23T10:00:00Z (2 h ago), remembered until 2026-11-30T10:00:00Z',
    );
    expect(r.out).toContain(
      '    bus      published at 2026-11-23T10:00:01Z (120 min ago), event id 6f1d2c3b-4a59-4e68-9d7c-0b1a2f3e4d5c\n',
    );
    expect(r.out).toMatch(
      / {2}rules {4}fine_tune\.completed: MlPlatform-PlatformHooksRouteFineTuneCompleted\S+$/m,
    );
    expect(r.out).toContain('  dlq      0 message(s) waiting');
    expect(r.out.split('\n').length).toBeLessThan(25);
    expect(r.err).toEqual([]);
  });

  test('a job id: every outcome named by the id alone, one GetItem each; the webhook claim found, with its delivery', async () => {
    const key = 'fine_tune.failed:ft-abc';
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'COMPLETED', 'evt_9') });
    const r = await trace('ft-abc', '--stack', STACK);
    expect(r.code).toBe(0);
    const asked = ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input.Key!.id.S);
    const byId = EVENT_TYPES.filter((t) => eventSpec(t).outcomeKey.length === 1);
    expect(asked).toEqual(byId.map((t) => claimId(`${t}:ft-abc`)));
    expect(asked).toContain(claimId('fine_tune.completed:ft-abc'));
    expect(asked).not.toContain(claimId('fine_tune.checkpoint:ft-abc'));
    expect(r.out).toContain(`  ${key}\n    claim    COMPLETED, by the webhook (verifier), delivery evt_9`);
    // fine_tune.failed's only rule on this bus is the construct's alert rule.
    expect(r.out).toMatch(/rules {4}fine_tune\.failed: \S+AlertFineTuneFailed\S+ \(alert\)$/m);
  });

  test('a claim completed by an earlier release (no event id recorded) says so', async () => {
    const key = 'fine_tune.completed:ft-old';
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'COMPLETED', key, false) });
    const r = await trace(key, '--stack', STACK);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      '    bus      published (the claim completes only once PutEvents took it); no event id recorded (an older claim)',
    );
  });

  test('a claim in progress: not confirmed, and when it lapses', async () => {
    const key = 'batch.done:b-1';
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'INPROGRESS', key) });
    const r = await trace(key, '--stack', STACK);
    expect(r.out).toContain('    claim    INPROGRESS, by the poller');
    expect(r.out).toContain(
      '    bus      not confirmed: publishing, the claim lapses 2026-11-23T12:01:00Z (in 60 s)',
    );
    expect(r.out).toMatch(/rules {4}batch\.done: \S+AlertBatchDone\S+ \(alert\) \(if its detail matches\)$/m);
  });

  test('no claim: says so, and what a key with a step or a time needs', async () => {
    const r = await trace('ft-zzz', '--stack', STACK);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  no claim: not published by this construct (or past its retention)');
    expect(r.out).toContain('trace <type>:<id>:<step|since>');
    expect(r.out).not.toContain('rules');
    const key = await trace('batch.done:b-9', '--stack', STACK);
    expect(key.out).toMatch(/ {2}no claim.*\n {4}batch\.done:b-9\n {2}rules {4}batch\.done: /);
  });

  test('dead letters: the depth only, unless --peek reads them with visibility 0 and finds this outcome', async () => {
    const key = 'fine_tune.completed:ft-abc';
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'COMPLETED', key) });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    const body = (k: string) => JSON.stringify({ 'detail-type': 'x', detail: { outcome_key: k } });
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        { MessageId: 'm1', Body: body('fine_tune.completed:other') },
        {
          MessageId: 'm2',
          Body: body(key),
          MessageAttributes: {
            RULE_ARN: {
              DataType: 'String',
              StringValue: 'arn:aws:events:us-east-1:1:rule/bus/RouteFineTuneCompleted',
            },
            ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
          },
        },
      ],
    });
    const quiet = await trace(key, '--stack', STACK);
    expect(quiet.out).toContain(
      '  dlq      3 message(s) waiting (whether this outcome is one of them: --peek)',
    );
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
    const peek = await trace(key, '--stack', STACK, '--peek');
    expect(peek.out).toContain('this outcome is in it: RouteFineTuneCompleted failed with SDK_CLIENT_ERROR');
    expect(sqs.commandCalls(ReceiveMessageCommand)[0].args[0].input).toMatchObject({
      QueueUrl: dlq,
      VisibilityTimeout: 0,
      MaxNumberOfMessages: 10,
    });
  });

  test('--peek not finding it: bounded reads, and says they stay in the queue', async () => {
    const key = 'fine_tune.completed:ft-abc';
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'COMPLETED', key) });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [{ MessageId: 'm1', Body: 'not json' }] });
    const r = await trace(key, '--stack', STACK, '--peek');
    expect(r.out).toContain(
      'not among the 1 message(s) read (read with visibility 0: they stay in the queue)',
    );
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(5);
  });

  test('explicit flags without a stack: the claim only, and what was not looked up', async () => {
    const r = await trace('batch.done:b-1', '--table', 't', '--scope', 'c8abc');
    expect(r.code).toBe(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(ddb.commandCalls(GetItemCommand)[0].args[0].input.Key).toEqual({
      id: { S: 'o#c8abc#batch.done:b-1' },
    });
    expect(r.out).toContain('  rules    not looked up: give --stack or --bus');
    expect(r.out).toContain('  dlq      not looked up: give --stack or --dlq-url');
  });

  test('the table failing: exit 1, one line', async () => {
    ddb.on(GetItemCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: dynamodb:GetItem'), {
        name: 'AccessDeniedException',
      }),
    );
    const r = await trace('batch.done:b-1', '--stack', STACK);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      `together-webhooks trace: table ${table}: AccessDeniedException: User is not authorized to perform: dynamodb:GetItem`,
    ]);
  });

  test.each([
    [[], 'needs an outcome key (fine_tune.completed:ft-123) or a job id (ft-123)'],
    [['a', 'b', '--table', 't'], 'takes one outcome key or job id, got also "b"'],
    [['ft-1'], 'needs --stack NAME or --table (the dedupe table)'],
    [['ft-1', '--table', 't'], 'needs --stack NAME or --scope'],
  ])('%j: exit 2, %s', async (argv, message) => {
    const r = await trace(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringContaining(`together-webhooks trace: ${message}`)]);
  });
});

describe('trace: the rules of its type, judged as EventBridge does', () => {
  const busName = d.physical('PlatformHooksBus');
  const key = 'batch.done:b-1';
  const rule = (name: string, pattern: object, state: 'ENABLED' | 'DISABLED' = 'ENABLED') => ({
    Name: name,
    Arn: `arn:aws:events:us-east-1:111111111111:rule/${busName}/${name}`,
    EventPattern: JSON.stringify(pattern),
    State: state,
    EventBusName: busName,
  });
  const rulesLine = (out: string) => out.split('\n').find((l) => l.startsWith('  rules    batch.done'))!;
  beforeEach(() => {
    ddb
      .on(GetItemCommand, { Key: { id: { S: claimId(key) } } })
      .resolves({ Item: claimItem(key, 'COMPLETED', key) });
  });

  test('a rule matching batch.done by prefix is listed, not "none: no target receives it"; one by anything-but another type too; one not taking it is not', async () => {
    eb.on(ListRulesCommand).resolves({
      Rules: [
        rule('all-batch-events', { source: ['together.ai'], 'detail-type': [{ prefix: 'batch.' }] }),
        rule('not-fine-tunes', {
          source: [{ prefix: 'together' }],
          'detail-type': [{ 'anything-but': { prefix: 'fine_tune.' } }],
        }),
        rule('dones', { source: ['together.ai'], 'detail-type': [{ wildcard: '*.done' }] }),
        rule('fine-tunes', { source: ['together.ai'], 'detail-type': [{ prefix: 'fine_tune.' }] }),
      ],
    });
    const r = await trace(key, '--stack', STACK);
    expect(r.code).toBe(0);
    expect(rulesLine(r.out)).toBe('  rules    batch.done: all-batch-events, not-fine-tunes, dones');
  });

  test('a DISABLED rule is marked (disabled), and none enabled is said; a pattern it cannot judge is listed as not understood', async () => {
    eb.on(ListRulesCommand).resolves({
      Rules: [
        rule('old-batch-handler', { source: ['together.ai'], 'detail-type': ['batch.done'] }, 'DISABLED'),
        rule('numeric', { source: ['together.ai'], 'detail-type': [{ numeric: ['>', 0] }] }),
      ],
    });
    const r = await trace(key, '--stack', STACK);
    expect(rulesLine(r.out)).toBe(
      '  rules    batch.done: old-batch-handler (disabled), numeric (pattern not understood)',
    );
    eb.on(ListRulesCommand).resolves({
      Rules: [
        rule('old-batch-handler', { source: ['together.ai'], 'detail-type': ['batch.done'] }, 'DISABLED'),
      ],
    });
    const off = await trace(key, '--stack', STACK);
    expect(rulesLine(off.out)).toBe(
      '  rules    batch.done: old-batch-handler (disabled); none enabled: no target receives it',
    );
  });
});
