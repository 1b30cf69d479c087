import { App, aws_iam as iam, aws_secretsmanager as secretsmanager, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { randomUUID } from 'node:crypto';
import {
  AliasDeps,
  AliasSpec,
  applyAliases,
  planAliases,
  readAliasEvent,
} from '../../../lambda/model-aliases/core';
import { DynamoAliasState } from '../../../lambda/model-aliases/state';
import { DynamoIdempotencyStore, IdempotencyStore } from '../../../lambda/shared/idempotency';
import { LogLine } from '../../../lambda/shared/log';
import { ModelAlias, TogetherModelAliases, TogetherWebhooks } from '../../../lib';
import { sampleEvent } from '../../../lib/events';
import { LocalDynamo, startDynalite } from '../../support/dynalite';
import { actionsOf, functionStatements, resourcesFor } from '../../support/iam';

/** Issue 12, recipe 2: model aliases in SSM, moved on a deprecation (opt-in) and on a new deployment. */

const OLD = 'meta-llama/Llama-2-70b-chat-hf';
const NEW = 'meta-llama/Llama-3.3-70B-Instruct-Turbo';
const ALIASES: AliasSpec[] = [
  { alias: 'chat', parameter: '/together/models/chat' },
  { alias: 'summarize', parameter: '/together/models/summarize' },
  { alias: 'support-bot', parameter: '/together/models/support-bot', follow: 'acme/support-' },
];

/** The claims' clock: fixture time, a while after the events below, never the real clock. */
const NOW = Date.parse('2026-11-26T12:00:00Z');

function event(type: 'model.deprecated' | 'endpoint.ready', data: Record<string, unknown>, key: string) {
  const sample = sampleEvent(type, key);
  return { 'detail-type': type, detail: { ...sample, data: { ...sample.data, ...data }, outcome_key: key } };
}
const deprecated = (replacement: string | null) =>
  event(
    'model.deprecated',
    { model_id: OLD, replacement_model: replacement, sunset_date: '2027-03-01' },
    `model.deprecated:${OLD}:2026-11-26T10:00:00.000Z`,
  );
const ready = (model: string, name: string, id = 'endpoint-1', since = '2026-11-26T10:00:00.000Z') =>
  event(
    'endpoint.ready',
    { endpoint_id: id, endpoint_name: name, model, since },
    `endpoint.ready:${id}:${since}`,
  );

describe('planAliases', () => {
  const current = {
    '/together/models/chat': OLD,
    '/together/models/summarize': NEW,
    '/together/models/support-bot': OLD,
  };
  test('a deprecation with a replacement, opted in: every alias on the model moves, the others stay', () => {
    const plan = planAliases(readAliasEvent(deprecated(NEW)), ALIASES, current, true);
    expect(plan.alerts).toEqual([]);
    expect(plan.changes.map((c) => [c.alias, c.from, c.to])).toEqual([
      ['chat', OLD, NEW],
      ['support-bot', OLD, NEW],
    ]);
    expect(plan.changes[0].reason).toBe(
      `${OLD} is deprecated (sunset 2027-03-01); Together names ${NEW} to replace it`,
    );
  });

  test('not opted in, or no replacement: an alert per alias, no change', () => {
    const off = planAliases(readAliasEvent(deprecated(NEW)), ALIASES, current, false);
    expect(off.changes).toEqual([]);
    expect(off.alerts.map((a) => a.alias)).toEqual(['chat', 'support-bot']);
    expect(off.alerts[0].reason).toMatch(/Switching aliases on deprecation is off/);
    const none = planAliases(readAliasEvent(deprecated(null)), ALIASES, current, true);
    expect(none.changes).toEqual([]);
    expect(none.alerts[0].reason).toMatch(/Together names no replacement: point \/together\/models\/chat/);
  });

  test('endpoint.ready moves only the aliases that follow that model, to the endpoint name', () => {
    const plan = planAliases(
      readAliasEvent(ready('acme/support-v7', 'devuser/acme/support-v7-1a2b')),
      ALIASES,
      current,
      false,
    );
    expect(plan.changes.map((c) => [c.alias, c.from, c.to])).toEqual([
      ['support-bot', OLD, 'devuser/acme/support-v7-1a2b'],
    ]);
    expect(planAliases(readAliasEvent(ready('acme/other', 'x')), ALIASES, current, false).changes).toEqual(
      [],
    );
  });
});

describe('applyAliases (dynalite claims, SSM and SNS at their boundary)', () => {
  let dynamo: LocalDynamo;
  let table: string;
  let params: Map<string, string>;
  let writes: Array<[string, string]>;
  let told: Array<{ subject: string; message: string }>;
  let logs: LogLine[];
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());
  beforeEach(async () => {
    table = await dynamo.createTable('aliases');
    params = new Map([
      ['/together/models/chat', OLD],
      ['/together/models/summarize', NEW],
      ['/together/models/support-bot', 'acme/support-v6'],
    ]);
    writes = [];
    told = [];
    logs = [];
  });

  const deps = (overrides: Partial<AliasDeps> = {}): AliasDeps => ({
    aliases: ALIASES,
    switchOnDeprecation: true,
    readParameters: async (names) => Object.fromEntries(names.map((n) => [n, params.get(n)])),
    writeParameter: async (name, value) => {
      writes.push([name, value]);
      params.set(name, value);
    },
    announce: async (subject, message) => void told.push({ subject, message }),
    store: new DynamoIdempotencyStore(dynamo.client, table),
    state: new DynamoAliasState(dynamo.client, table, 'test'),
    scope: 'test',
    token: randomUUID(),
    nowMs: NOW,
    remainingMs: 30_000,
    retentionSeconds: 86400,
    log: (l) => logs.push(l),
    ...overrides,
  });

  test('each change is written, logged and announced with its old and new value; a redelivery does nothing', async () => {
    await applyAliases(readAliasEvent(deprecated(NEW)), deps());
    expect(writes).toEqual([['/together/models/chat', NEW]]);
    expect(told).toEqual([
      {
        subject: 'Together model alias chat changed',
        message: `/together/models/chat: ${OLD} -> ${NEW}\nWhy: ${OLD} is deprecated (sunset 2027-03-01); Together names ${NEW} to replace it`,
      },
    ]);
    expect(logs).toContainEqual(
      expect.objectContaining({ message: 'model alias changed', from: OLD, to: NEW }),
    );
    expect(await applyAliases(readAliasEvent(deprecated(NEW)), deps())).toBe('done_before');
    expect(writes).toHaveLength(1);
    expect(told).toHaveLength(1);
  });

  test('a failed write frees the event for the retry, which completes it once', async () => {
    let fail = true;
    const flaky = deps({
      writeParameter: async (name, value) => {
        if (fail) throw new Error('ThrottlingException');
        writes.push([name, value]);
        params.set(name, value);
      },
    });
    await expect(
      applyAliases(readAliasEvent(ready('acme/support-v7', 'devuser/acme/support-v7-1a2b')), flaky),
    ).rejects.toThrow('ThrottlingException');
    fail = false;
    await applyAliases(readAliasEvent(ready('acme/support-v7', 'devuser/acme/support-v7-1a2b')), flaky);
    expect(writes).toEqual([['/together/models/support-bot', 'devuser/acme/support-v7-1a2b']]);
  });

  test('a PutParameter that landed but whose answer was lost: the retry still logs and announces that change', async () => {
    // Review D1. SSM applied the write, the client saw a timeout; Lambda's retry finds the alias moved already.
    let first = true;
    const lossy = deps({
      aliases: [ALIASES[0], { alias: 'other', parameter: '/together/models/other' }],
      writeParameter: async (name, value) => {
        writes.push([name, value]);
        params.set(name, value);
        if (first) {
          first = false;
          throw new Error('TimeoutError');
        }
      },
    });
    params.set('/together/models/other', OLD);
    await expect(applyAliases(readAliasEvent(deprecated(NEW)), lossy)).rejects.toThrow('TimeoutError');
    expect(told).toEqual([]);
    await applyAliases(readAliasEvent(deprecated(NEW)), { ...lossy, token: randomUUID() });
    expect(params.get('/together/models/chat')).toBe(NEW);
    expect(told.map((t) => t.subject)).toEqual([
      'Together model alias chat changed',
      'Together model alias other changed',
    ]);
    expect(told[0].message).toBe(
      `/together/models/chat: ${OLD} -> ${NEW}\nWhy: ${OLD} is deprecated (sunset 2027-03-01); Together names ${NEW} to replace it`,
    );
    expect(
      logs.filter((l) => l.message === 'model alias changed').map((l) => [l.alias, l.from, l.to]),
    ).toEqual([
      ['chat', OLD, NEW],
      ['other', OLD, NEW],
    ]);
    // The landed write is not made again, and a later event that finds an alias already in place announces nothing.
    expect(writes.map(([n]) => n)).toEqual(['/together/models/chat', '/together/models/other']);
  });

  test('a write that failed on the second alias: the retry moves only the rest and repeats no announcement', async () => {
    let failOther = true;
    const flaky = deps({
      aliases: [ALIASES[0], { alias: 'other', parameter: '/together/models/other' }],
      writeParameter: async (name, value) => {
        if (name === '/together/models/other' && failOther) {
          failOther = false;
          throw new Error('ThrottlingException');
        }
        writes.push([name, value]);
        params.set(name, value);
      },
    });
    params.set('/together/models/other', OLD);
    await expect(applyAliases(readAliasEvent(deprecated(NEW)), flaky)).rejects.toThrow('ThrottlingException');
    await applyAliases(readAliasEvent(deprecated(NEW)), { ...flaky, token: randomUUID() });
    expect(writes.map(([n]) => n)).toEqual(['/together/models/chat', '/together/models/other']);
    expect(told.map((t) => t.subject)).toEqual([
      'Together model alias chat changed',
      'Together model alias other changed',
    ]);
    expect(await applyAliases(readAliasEvent(deprecated(NEW)), flaky)).toBe('done_before');
  });

  test('an alias already on the target before the event is not announced as a change', async () => {
    params.set('/together/models/chat', NEW);
    const plan = await applyAliases(readAliasEvent(deprecated(NEW)), deps());
    expect(plan).toEqual({ changes: [], alerts: [] });
    expect(told).toEqual([]);
  });

  test('a late retry of an older endpoint.ready does not move the alias back past a newer deployment', async () => {
    // Review D2. endpoint-1 (10:00) failed its first try; endpoint-2 (10:05) moved the alias; endpoint-1's retry.
    const newer = ready('acme/support-v7', 'me/support-v7-new', 'endpoint-2', '2026-11-26T10:05:00Z');
    const older = ready('acme/support-v7', 'me/support-v7-old', 'endpoint-1', '2026-11-26T10:00:00Z');
    await applyAliases(readAliasEvent(newer), deps());
    const late = await applyAliases(readAliasEvent(older), deps());
    expect(params.get('/together/models/support-bot')).toBe('me/support-v7-new');
    expect(late).toEqual({ changes: [], alerts: [] });
    expect(writes).toEqual([['/together/models/support-bot', 'me/support-v7-new']]);
    expect(told).toHaveLength(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'older deployment not followed',
        alias: 'support-bot',
        endpoint: 'me/support-v7-old',
        since: '2026-11-26T10:00:00Z',
      }),
    );
    // A later deployment still moves it.
    const later = ready('acme/support-v8', 'me/support-v8', 'endpoint-3', '2026-11-26T11:00:00Z');
    await applyAliases(readAliasEvent(later), deps());
    expect(params.get('/together/models/support-bot')).toBe('me/support-v8');
  });

  test('the retry of the deployment the alias last followed goes through (its write had failed)', async () => {
    let fail = true;
    const flaky = deps({
      writeParameter: async (name, value) => {
        if (fail) {
          fail = false;
          throw new Error('ThrottlingException');
        }
        writes.push([name, value]);
        params.set(name, value);
      },
    });
    const e = ready('acme/support-v7', 'me/support-v7', 'endpoint-2', '2026-11-26T10:05:00Z');
    await expect(applyAliases(readAliasEvent(e), flaky)).rejects.toThrow('ThrottlingException');
    await applyAliases(readAliasEvent(e), { ...flaky, token: randomUUID() });
    expect(params.get('/together/models/support-bot')).toBe('me/support-v7');
    expect(told.map((t) => t.subject)).toEqual(['Together model alias support-bot changed']);
  });

  describe('switch off: alerts are sent once though marking the claim complete fails', () => {
    // Review D4.
    const failing = (times: number): IdempotencyStore => {
      const real = new DynamoIdempotencyStore(dynamo.client, table);
      let left = times;
      return {
        claim: (r) => real.claim(r),
        release: (r) => real.release(r),
        complete: async (r) => {
          if (left-- > 0) throw new Error('ProvisionedThroughputExceededException');
          return real.complete(r);
        },
      };
    };

    test('a failed attempt at marking it is tried again, and the event is then done', async () => {
      const store = failing(1);
      const d = () => deps({ store, switchOnDeprecation: false });
      await applyAliases(readAliasEvent(deprecated(NEW)), d());
      expect(await applyAliases(readAliasEvent(deprecated(NEW)), d())).toBe('done_before');
      expect(told.map((t) => t.subject)).toEqual(['Together model alias chat points at a deprecated model']);
    });

    test('every attempt failing: logged, not thrown, so Lambda does not retry and alert again', async () => {
      const store = failing(100);
      const d = () => deps({ store, switchOnDeprecation: false });
      const plan = await applyAliases(readAliasEvent(deprecated(NEW)), d());
      expect(plan).not.toBe('done_before');
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 'ERROR',
          message: 'marking the event done failed; its work is done',
          error: 'Error: ProvisionedThroughputExceededException',
        }),
      );
      // A redelivery while the claim holds is refused without alerting.
      await expect(applyAliases(readAliasEvent(deprecated(NEW)), d())).rejects.toThrow('being applied');
      expect(told).toHaveLength(1);
    });
  });

  test('an announcement that fails does not undo or repeat the change; it is logged', async () => {
    await applyAliases(
      readAliasEvent(deprecated(NEW)),
      deps({
        announce: async () => {
          throw new Error('SNS down');
        },
      }),
    );
    expect(writes).toHaveLength(1);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'announcing an alias change failed' }),
    );
  });

  test('anything but model.deprecated or endpoint.ready is refused by name', () => {
    expect(() => readAliasEvent({ 'detail-type': 'batch.done', detail: {} })).toThrow(
      'expected model.deprecated or endpoint.ready, got detail-type batch.done',
    );
  });
});

describe('the Lambda adapter (SSM and SNS stubbed at the SDK boundary, claims in dynalite)', () => {
  let dynamo: LocalDynamo;
  const ssmMock = mockClient(SSMClient);
  const snsMock = mockClient(SNSClient);
  const saved = { ...process.env };
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    ssmMock.restore();
    snsMock.restore();
    process.env = saved;
    await dynamo.stop();
  });

  test('reads the aliases ten names a call, overwrites the moved ones, announces on the alert topic', async () => {
    const aliases = Array.from({ length: 12 }, (_, i) => ({
      alias: `a${i}`,
      parameter: `/together/models/a${i}`,
    }));
    const values = new Map(aliases.map((a, i) => [a.parameter, i % 5 === 0 ? OLD : NEW]));
    ssmMock.on(GetParametersCommand).callsFake((input: { Names: string[] }) => ({
      Parameters: input.Names.map((Name) => ({ Name, Value: values.get(Name) })),
    }));
    ssmMock.on(PutParameterCommand).resolves({ Version: 2 });
    snsMock.on(PublishCommand).resolves({ MessageId: 'm' });
    process.env = {
      ...saved,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      TABLE_NAME: await dynamo.createTable('alias-adapter'),
      ALIASES: JSON.stringify(aliases),
      SWITCH_ON_DEPRECATION: 'true',
      CLAIM_SCOPE: 'adapter',
      RETENTION_DAYS: '30',
      ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111111111111:alerts',
    };
    // Loaded now, with this environment (the module reads it once, as in Lambda), and the stubbed SDK classes.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require('../../../lambda/model-aliases/index') as {
      handler: (e: unknown) => Promise<unknown>;
    };
    await handler(deprecated(NEW));
    expect(ssmMock.commandCalls(GetParametersCommand).map((c) => c.args[0].input.Names?.length)).toEqual([
      10, 2,
    ]);
    expect(ssmMock.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual(
      ['/together/models/a0', '/together/models/a5', '/together/models/a10'].map((Name) => ({
        Name,
        Value: NEW,
        Overwrite: true,
        Type: 'String',
      })),
    );
    expect(snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input.TopicArn)).toEqual(
      Array(3).fill('arn:aws:sns:us-east-1:111111111111:alerts'),
    );
    // The same event again: claimed already, so SSM is not even read.
    await handler(deprecated(NEW));
    expect(ssmMock.commandCalls(GetParametersCommand)).toHaveLength(2);
    // The claim is remembered for RETENTION_DAYS (the receiver's dedupeRetention), not a fixed week.
    const claim = await dynamo.client.send(
      new GetItemCommand({
        TableName: process.env.TABLE_NAME,
        Key: { id: { S: `model-aliases#adapter:${readAliasEvent(deprecated(NEW)).outcomeKey}` } },
      }),
    );
    const days = (Number(claim.Item?.expiration?.N) - Date.now() / 1000) / 86400;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });
});

describe('the construct', () => {
  function synth(aliases: ModelAlias[], extra: { poller?: boolean; switchOnDeprecation?: boolean } = {}) {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Aliases', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'together/api-key');
    const webhooks = new TogetherWebhooks(
      stack,
      'Hooks',
      extra.poller === false ? {} : { poller: { apiKey } },
    );
    const recipe = new TogetherModelAliases(stack, 'Models', {
      webhooks,
      aliases,
      switchOnDeprecation: extra.switchOnDeprecation,
    });
    return { recipe, t: Template.fromStack(stack) };
  }

  test('one parameter per alias with its first model; the handler may touch only those parameters', () => {
    const { t } = synth([
      { name: 'chat', model: OLD },
      { name: 'support-bot', model: 'acme/support-v6', followDeploymentsOf: 'acme/support-' },
    ]);
    t.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/together/models/chat',
      Value: OLD,
      Type: 'String',
    });
    t.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/together/models/support-bot',
      Value: 'acme/support-v6',
    });
    const statements = functionStatements(t, 'ModelsFunction');
    expect(actionsOf(statements)).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sns:Publish',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
      'ssm:GetParameters',
      'ssm:PutParameter',
    ]);
    const ssmResources = resourcesFor(statements, 'ssm:').join();
    // Each alias parameter's own ARN (parameter/<name>), named through its Ref.
    expect(ssmResources).toContain(':ssm:us-east-1:111111111111:parameter",{"Ref":"ModelsAliaschat');
    expect(ssmResources).toContain('{"Ref":"ModelsAliassupportbot');
    expect(ssmResources).not.toContain('*');
    // Following a deployment: endpoint.ready routed to it, and the poller follows endpoints.
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['together.ai'], 'detail-type': ['endpoint.ready'] },
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ModelsFunction'), 'Arn'] } }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Polls Together AI jobs'),
      Environment: { Variables: Match.objectLike({ ENDPOINTS: 'true' }) },
    });
  });

  test('no alias follows deployments: only model.deprecated is routed to it', () => {
    const { t } = synth([{ name: 'chat', model: OLD }], { poller: false });
    const rules = Object.values(t.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r).includes('ModelsFunction'),
    );
    expect(rules.map((r) => r.Properties.EventPattern['detail-type'])).toEqual([['model.deprecated']]);
  });

  test('grantRead gives an inference role read access to the aliases only', () => {
    const app = new App();
    const stack = new Stack(app, 'Read');
    const recipe = new TogetherModelAliases(stack, 'Models', {
      webhooks: new TogetherWebhooks(stack, 'Hooks'),
      aliases: [{ name: 'chat', model: OLD }],
    });
    const role = new iam.Role(stack, 'Inference', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    });
    recipe.grantRead(role);
    expect(recipe.parameter('chat').parameterName).toBeDefined();
    const policy = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(policy).toContain('ssm:GetParameter');
    expect(() => recipe.parameter('nope')).toThrow('TogetherModelAliases: no alias "nope"; aliases: chat');
  });

  test("the handler's claims last the receiver's dedupeRetention (RETENTION_DAYS)", () => {
    // Review D8.
    const stack = new Stack(new App(), 'S');
    new TogetherModelAliases(stack, 'Models', {
      webhooks: new TogetherWebhooks(stack, 'Hooks', { dedupeRetention: Duration.days(30) }),
      aliases: [{ name: 'chat', model: NEW }],
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Keeps Together model aliases in SSM on a model that serves',
      Environment: { Variables: Match.objectLike({ RETENTION_DAYS: '30' }) },
    });
  });

  test('alias names that would share a construct id are refused, naming both', () => {
    // Review D5. Construct ids drop everything but letters and digits; ids of names that don't collide stay.
    expect(() =>
      synth([
        { name: 'a-b', model: OLD },
        { name: 'ab', model: NEW },
      ]),
    ).toThrow(
      'TogetherModelAliases: aliases "a-b" and "ab" would share the construct id "Aliasab"; rename one of them',
    );
    expect(() =>
      synth([
        { name: 'a.b', model: OLD },
        { name: 'chat', model: OLD },
        { name: 'a_b', model: NEW },
      ]),
    ).toThrow('aliases "a.b" and "a_b" would share the construct id "Aliasab"');
    const { t } = synth([
      { name: 'a-b', model: OLD },
      { name: 'A-b', model: OLD },
    ]);
    expect(
      Object.keys(t.findResources('AWS::SSM::Parameter')).map((id) => id.replace(/[0-9A-F]{8}$/, '')),
    ).toEqual(['ModelsAliasab', 'ModelsAliasAb']);
  });

  test('parameter names SSM would refuse are refused at synth, showing the value', () => {
    // Review D6.
    const make = (parameterPrefix: string, name = 'chat', env = true) => {
      const app = new App({ builtinCloudFormationValidation: false });
      const stack = new Stack(
        app,
        'P',
        env ? { env: { account: '111111111111', region: 'us-east-1' } } : undefined,
      );
      return new TogetherModelAliases(stack, 'Models', {
        webhooks: new TogetherWebhooks(stack, 'Hooks'),
        parameterPrefix,
        aliases: [{ name, model: NEW }],
      });
    };
    const levels = (n: number) => '/' + Array.from({ length: n }, (_, i) => `l${i}`).join('/') + '/';
    expect(() => make(levels(14))).not.toThrow(); // 15 levels with the alias
    expect(() => make(levels(15))).toThrow(
      `TogetherModelAliases: parameter "${levels(15)}chat" has 16 levels; SSM allows at most 15 (parameterPrefix and alias name together)`,
    );
    // 1011 characters with the ARN before the name: arn:aws:ssm:us-east-1:111111111111:parameter (44 here).
    const long = (k: number) => '/' + 'x'.repeat(k) + '/';
    expect(() => make(long(961))).not.toThrow(); // 967-character name, 1011 with the ARN
    expect(() => make(long(962))).toThrow(
      /TogetherModelAliases: parameter "\/x{59}\.\.\." is 968 characters, 1012 in its ARN; SSM allows 1011 with the ARN/,
    );
    // Unknown region: room is left for the longest partition and region.
    expect(() => make(long(961), 'chat', false)).toThrow(/is 967 characters, up to 1024 in its ARN/);
    expect(() => make('/Together/AWS/')).not.toThrow();
    expect(() => make('/aws/models/')).toThrow(
      'TogetherModelAliases: parameter "/aws/models/chat" begins with "aws"; SSM reserves names beginning with "aws" or "ssm"',
    );
    expect(() => make('/', 'SSM-chat')).toThrow('parameter "/SSM-chat" begins with "SSM"');
    expect(() => make('together/models/')).toThrow(
      'parameterPrefix must start and end with "/" (e.g. /together/models/), got "together/models/"',
    );
    expect(() => make('/together models/')).toThrow('got "/together models/"');
  });

  test('props are checked early, with the value received', () => {
    expect(() => synth([])).toThrow('TogetherModelAliases: aliases must name at least one alias, got none');
    expect(() => synth([{ name: 'has space', model: OLD }])).toThrow('got "has space"');
    expect(() =>
      synth([
        { name: 'a', model: OLD },
        { name: 'a', model: NEW },
      ]),
    ).toThrow('alias "a" is given twice');
    expect(() => synth([{ name: 'a', model: OLD, followDeploymentsOf: 'acme/' }], { poller: false })).toThrow(
      "followDeploymentsOf needs TogetherWebhooks' poller",
    );
  });
});
