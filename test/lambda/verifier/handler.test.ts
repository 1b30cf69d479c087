import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { LocalDynamo, startDynalite } from '../../support/dynalite';
import { envelope, SECRET, signedRequest } from '../../support/signing';
import { BUS, mockEventBridge } from '../../support/verifier-harness';

// The Lambda entry point as deployed: env config, module-scope clients, DynamoDB over the wire (dynalite).
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:signing-AbCdEf';
let dynamo: LocalDynamo;
const bus = mockEventBridge();
const sm = mockClient(SecretsManagerClient);
let handler: typeof import('../../../lambda/verifier/index').handler;
let out: string[];

beforeAll(async () => {
  dynamo = await startDynalite();
  const table = await dynamo.createTable('handler');
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    SECRET_ARN,
    SECRET_JSON_FIELD: 'signingSecret',
    TABLE_NAME: table,
    CLAIM_SCOPE: 'c8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    EVENT_BUS_NAME: BUS,
    AWS_LAMBDA_FUNCTION_NAME: 'verifier-fn',
  });
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
    SecretString: JSON.stringify({ signingSecret: SECRET }),
  });
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(
    new ResourceNotFoundException({ message: 'none', $metadata: {} }),
  );
  handler = (await import('../../../lambda/verifier/index')).handler;
});
beforeEach(() => {
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
});
afterEach(() => jest.restoreAllMocks());
afterAll(async () => {
  bus.eb.restore();
  sm.restore();
  await dynamo.stop();
  for (const name of [
    'AWS_ENDPOINT_URL_DYNAMODB',
    'SECRET_ARN',
    'SECRET_JSON_FIELD',
    'TABLE_NAME',
    'EVENT_BUS_NAME',
  ]) {
    delete process.env[name];
  }
});

const context = { getRemainingTimeInMillis: () => 9_000 };

test('an HTTP API event goes through the deployed entry point to the bus exactly once', async () => {
  // The deployed handler reads the real clock: so does this envelope's created_at.
  const body = envelope(
    'h-1',
    'fine_tune.checkpoint',
    { fine_tune_id: 'ft-1', step: 40, loss: 1.5 },
    new Date().toISOString(),
  );
  const event = { version: '2.0', routeKey: 'POST /webhooks/together', ...signedRequest(body) };
  const first = await handler(event, context);
  const second = await handler(event, context);
  expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
  expect(JSON.parse(second.body)).toMatchObject({ duplicate: true });
  expect(bus.entries()).toEqual([
    {
      EventBusName: BUS,
      Source: 'together.ai',
      DetailType: 'fine_tune.checkpoint',
      Detail: `${body.slice(0, -1)},"outcome_key":"fine_tune.checkpoint:ft-1:40"}`,
    },
  ]);
  // One secret read for both requests: the cache is warm.
  expect(
    sm.commandCalls(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT' }),
  ).toHaveLength(1);

  const lines = out.map((l) => JSON.parse(l));
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatchObject({ id: 'h-1', outcome: 'published', Service: 'verifier-fn' });
  expect(out.join('')).not.toContain(SECRET);
});

test('a missing configuration answers 500 (retry once fixed) and says what is missing', async () => {
  let fresh!: typeof import('../../../lambda/verifier/index');
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    fresh = require('../../../lambda/verifier/index');
  });
  const saved = process.env.TABLE_NAME;
  delete process.env.TABLE_NAME;
  try {
    const res = await fresh.handler(
      signedRequest(envelope('h-2', undefined, undefined, new Date().toISOString())),
      context,
    );
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'verifier misconfigured' });
  } finally {
    process.env.TABLE_NAME = saved;
  }
  expect(out.join('')).toContain('environment variable TABLE_NAME is required');
  expect(bus.entries().filter((e) => e.Detail.includes('h-2'))).toEqual([]);
});

test("each event carries the invocation's X-Ray trace header, read per invocation, so a traced target joins it", async () => {
  const send = async (id: string, trace: string | undefined) => {
    if (trace === undefined) delete process.env._X_AMZN_TRACE_ID;
    else process.env._X_AMZN_TRACE_ID = trace;
    const body = envelope(
      id,
      'fine_tune.checkpoint',
      { fine_tune_id: id, step: 1, loss: 1 },
      new Date().toISOString(),
    );
    const event = { version: '2.0', routeKey: 'POST /webhooks/together', ...signedRequest(body) };
    const answer = await handler(event, context);
    expect(answer.statusCode).toBe(200);
    return bus.entries().find((e) => e.Detail.includes(`"${id}"`));
  };
  const one = 'Root=1-6745c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
  const three =
    'Root=1-6745c0e0-0123456789abcdef76543210;Parent=53995c3f42cd8ada;Sampled=1;Lineage=a87bd80c:1';
  const two = 'Root=1-6745c0df-89abcdef0123456701234567;Parent=53995c3f42cd8ad9;Sampled=0';
  try {
    expect((await send('trace-1', one))?.TraceHeader).toBe(one);
    // Not sampled (what Lambda sets with tracing off): left out, so a traced target decides for itself.
    expect(await send('trace-2', two)).not.toHaveProperty('TraceHeader');
    expect((await send('trace-5', three))?.TraceHeader).toBe(three);
    expect(await send('trace-3', undefined)).not.toHaveProperty('TraceHeader');
    expect(await send('trace-4', `Root=${'x'.repeat(600)};Sampled=1`)).not.toHaveProperty('TraceHeader'); // over PutEvents' 500
  } finally {
    delete process.env._X_AMZN_TRACE_ID;
  }
});
