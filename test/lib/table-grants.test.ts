import { App, aws_secretsmanager as secretsmanager, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  TogetherAutoDeploy,
  TogetherBatchResults,
  TogetherModelAliases,
  TogetherTrainingMonitor,
  TogetherWebhooks,
} from '../../lib';
import { EVENT_TYPES, eventSpec, outcomeKey, sampleEvent, TogetherEventType } from '../../lib/events';
import { autoDeploy } from '../../lambda/auto-deploy/core';
import { applyAliases } from '../../lambda/model-aliases/core';
import { DynamoAliasState } from '../../lambda/model-aliases/state';
import { stateKey } from '../../lambda/poller/state';
import { ClaimRequest, IdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';

/**
 * Issue 16, defect 4: every role that touches the dedupe table may touch its own keys only (`dynamodb:LeadingKeys`),
 * and those grants cover exactly the keys its handler's code writes: checked against the handlers' own key code.
 */

const app = new App({ builtinCloudFormationValidation: false });
const stack = new Stack(app, 'Grants', { env: { account: '111111111111', region: 'us-east-1' } });
const apiKey = secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'together/api-key');
const webhooks = new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey, evaluations: true } });
new TogetherAutoDeploy(stack, 'AutoDeploy', { webhooks, hardware: '1x_nvidia_h100_80gb_sxm' });
new TogetherModelAliases(stack, 'Models', { webhooks, aliases: [{ name: 'chat', model: 'acme/chat-v1' }] });
new TogetherBatchResults(stack, 'Results', { webhooks });
new TogetherTrainingMonitor(stack, 'Training', { webhooks });
const t = Template.fromStack(stack);

interface Grant {
  readonly actions: string[];
  readonly patterns: string[];
}

/** Per function (by logical id prefix): its environment and the DynamoDB statements of its role. */
function roleOf(prefix: string): { env: Record<string, string>; grants: Grant[] } {
  const [, fn] = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) =>
    id.startsWith(prefix),
  )!;
  const role = fn.Properties.Role['Fn::GetAtt'][0];
  const statements = Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
  const grants = statements.map((s) => {
    const patterns = s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
    expect(Array.isArray(patterns) && patterns.length > 0).toBe(true); // no DynamoDB action without a key condition
    return { actions: [s.Action].flat(), patterns };
  });
  return { env: fn.Properties.Environment?.Variables ?? {}, grants };
}

const matches = (pattern: string, key: string) =>
  pattern.endsWith('*') ? key.startsWith(pattern.slice(0, -1)) : key === pattern;
const allowed = (grants: Grant[], action: string, key: string) =>
  grants.some((g) => g.actions.includes(action) && g.patterns.some((p) => matches(p, key)));
const writable = (grants: Grant[], key: string) =>
  ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].every((a) =>
    allowed(grants, a, key),
  );

const keyOf = (type: TogetherEventType) => outcomeKey(sampleEvent(type));
const claimed = (scope: string, type: TogetherEventType) => outcomeClaimKeys(scope).item(keyOf(type));
const byProducer = (test: (p: string | undefined) => boolean) =>
  EVENT_TYPES.filter((e) => test(eventSpec(e).producer));

test('the verifier: its own outcome claims; the unscoped claims of Together types, read only; nothing else', () => {
  const { env, grants } = roleOf('HooksVerifier');
  expect(env.CLAIM_SCOPE).toBe(webhooks.claimScope);
  for (const type of byProducer((p) => p === undefined)) {
    expect(writable(grants, claimed(env.CLAIM_SCOPE, type))).toBe(true);
    expect(allowed(grants, 'dynamodb:GetItem', keyOf(type))).toBe(true);
    expect(allowed(grants, 'dynamodb:PutItem', keyOf(type))).toBe(false);
  }
  for (const other of [
    claimed('c8another', 'fine_tune.completed'),
    stateKey(webhooks.poller!.stateScope, 'lease'),
    `auto-deploy#${webhooks.claimScope}:ft-1`,
  ]) {
    expect(allowed(grants, 'dynamodb:GetItem', other)).toBe(false);
    expect(allowed(grants, 'dynamodb:DeleteItem', other)).toBe(false);
  }
});

test('the poller: the same outcome claims as its verifier, and its own state and lease', () => {
  const { env, grants } = roleOf('HooksPollerFunction');
  expect(env.CLAIM_SCOPE).toBe(webhooks.claimScope);
  for (const type of byProducer((p) => p === undefined || p === 'poller'))
    expect(writable(grants, claimed(env.CLAIM_SCOPE, type))).toBe(true);
  for (const part of [
    'lease',
    'fineTunes',
    'batches',
    'evaluations',
    'endpoints',
    'models',
    'health',
  ] as const)
    expect(writable(grants, stateKey(env.STATE_SCOPE, part))).toBe(true);
  expect(allowed(grants, 'dynamodb:PutItem', stateKey('c8another', 'lease'))).toBe(false);
  expect(allowed(grants, 'dynamodb:DeleteItem', `model-aliases#x#alias#chat`)).toBe(false);
});

test("auto-deploy: the claims its code makes, and not the poller's state or lease", async () => {
  const { env, grants } = roleOf('AutoDeployFunction');
  const ids: string[] = [];
  const store = recordingStore(ids);
  await autoDeploy(
    { fine_tune_id: 'ft-1', model_name: 'acme/ft-1', eval_loss: 0.2 },
    {
      config: { hardware: 'h', minReplicas: 1, maxReplicas: 1, scope: env.CLAIM_SCOPE, retentionSeconds: 60 },
      store,
      together: async () => {
        throw new Error('not called: the claim says done');
      },
      nowMs: 0,
      remainingMs: 1000,
      token: 't',
      log: () => undefined,
    },
  );
  expect(ids).toHaveLength(1);
  expect(writable(grants, ids[0])).toBe(true);
  expect(allowed(grants, 'dynamodb:DeleteItem', stateKey(webhooks.poller!.stateScope, 'lease'))).toBe(false);
  expect(allowed(grants, 'dynamodb:PutItem', claimed(webhooks.claimScope, 'fine_tune.completed'))).toBe(
    false,
  );
});

test('model aliases: its claims and per-alias records as its code names them, nothing else', async () => {
  const { env, grants } = roleOf('ModelsFunction');
  const ids: string[] = [];
  await applyAliases(
    { type: 'model.deprecated', outcomeKey: keyOf('model.deprecated'), data: {} },
    {
      aliases: [],
      switchOnDeprecation: false,
      readParameters: async () => ({}),
      writeParameter: async () => undefined,
      store: recordingStore(ids),
      state: new DynamoAliasState(recordingClient(ids), 'table', env.CLAIM_SCOPE),
      scope: env.CLAIM_SCOPE,
      token: 't',
      nowMs: 0,
      remainingMs: 1000,
      retentionSeconds: 60,
      log: () => undefined,
    },
  );
  await new DynamoAliasState(recordingClient(ids), 'table', env.CLAIM_SCOPE).pending('chat');
  expect(ids).toHaveLength(2);
  for (const id of ids) expect(writable(grants, id)).toBe(true);
  expect(allowed(grants, 'dynamodb:PutItem', stateKey(webhooks.poller!.stateScope, 'fineTunes'))).toBe(false);
});

test("batch results: its one outcome's claims in the receiver's scope; the unscoped ones read only", () => {
  const { env, grants } = roleOf('ResultsFunction');
  expect(env.CLAIM_SCOPE).toBe(webhooks.claimScope);
  expect(writable(grants, claimed(env.CLAIM_SCOPE, 'batch.collected'))).toBe(true);
  expect(allowed(grants, 'dynamodb:GetItem', keyOf('batch.collected'))).toBe(true);
  expect(allowed(grants, 'dynamodb:PutItem', claimed(env.CLAIM_SCOPE, 'fine_tune.completed'))).toBe(false);
});

test('the training monitor touches no table at all', () => {
  expect(roleOf('TrainingFunction').grants).toEqual([]);
});

/** A store whose every claim is found done: records the claim ids the code asks for. */
function recordingStore(ids: string[]): IdempotencyStore {
  return {
    claim: async (req: ClaimRequest) => {
      ids.push(req.id);
      return { claimed: false, existing: { status: 'COMPLETED' } };
    },
    complete: async () => undefined,
    release: async () => undefined,
  };
}

function recordingClient(ids: string[]) {
  return {
    send: async (command: { input: { Key?: { id?: { S?: string } } } }) => {
      ids.push(command.input.Key!.id!.S!);
      return {};
    },
  } as unknown as ConstructorParameters<typeof DynamoAliasState>[0];
}
