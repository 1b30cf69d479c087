import { Match, Matcher } from 'aws-cdk-lib/assertions/lib/helpers-internal';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { handleWebhook } from '../../lambda/verifier/core';
import { LocalDynamo, startDynalite } from '../support/dynalite';
import { SECRET } from '../support/signing';
import { harness, mockEventBridge } from '../support/verifier-harness';
import { SNAPSHOT_DIR } from './snapshot';
import { SENDER_CODE } from './webhooks-integ-app';
import { sampleEvent } from '../../lib/events';

// What can be proved of the integration test without AWS: its sender Lambda's code (run here, its webhook going
// into the verifier's real core) and its assertions (the committed snapshot's `expected` patterns, decoded the way
// integ-tests-alpha's handler does) against what the deployed pieces answer.

let dynamo: LocalDynamo;
const bus = mockEventBridge();
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  bus.eb.restore();
  await dynamo.stop();
});
beforeEach(() => {
  bus.eb.reset();
  bus.acceptAll();
});

/** The sender's inline code, with its two imports and the Lambda globals it uses. */
function sender(env: Record<string, string>, fetch: (url: string, init: RequestInit) => Promise<Response>) {
  const module = {
    exports: {} as { handler?: (e: unknown, c: { awsRequestId: string }) => Promise<unknown> },
  };
  const fakeRequire = (name: string): unknown => {
    if (name === 'node:crypto') return jest.requireActual('node:crypto');
    if (name !== '@aws-sdk/client-secrets-manager') throw new Error(`the sender requires ${name}`);
    return {
      GetSecretValueCommand: class {
        constructor(readonly input: { SecretId: string }) {}
      },
      SecretsManagerClient: class {
        async send(command: { input: { SecretId: string } }) {
          if (command.input.SecretId !== env.SECRET_ARN)
            throw new Error(`no secret ${command.input.SecretId}`);
          return { SecretString: SECRET };
        }
      },
    };
  };
  runInNewContext(SENDER_CODE, {
    require: fakeRequire,
    module,
    exports: module.exports,
    process: { env },
    fetch,
    AbortSignal,
    Buffer,
  });
  return module.exports.handler!;
}

const URL = 'https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/together';

/** The deployed verifier behind the URL: its real core, table (dynalite) and publisher (mocked bus). */
async function verifierEndpoint(): Promise<(url: string, init: RequestInit) => Promise<Response>> {
  const h = harness({ dynamoClient: dynamo.client, table: await dynamo.createTable('integ') });
  h.clock.now = Date.now();
  return async (url, init) => {
    if (url !== URL || init.method !== 'POST') return new Response('not found', { status: 404 });
    const headers = Object.fromEntries(
      Object.entries(init.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const res = await handleWebhook(
      { headers, body: String(init.body), isBase64Encoded: false },
      h.deps,
      10_000,
    );
    return new Response(res.body, { status: res.statusCode, headers: res.headers });
  };
}

const ENV = {
  WEBHOOK_URL: URL,
  SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:signing-AbCdEf',
  SAMPLE_EVENT: JSON.stringify(sampleEvent('fine_tune.completed')),
};

/** The SQS message EventBridge delivers for a PutEvents entry (a rule target without input: the whole event). */
function queueMessage(entry: Record<string, string>) {
  const event = {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: JSON.parse(entry.Detail),
  };
  return { MessageId: randomUUID(), ReceiptHandle: 'rh', MD5OfBody: 'md5', Body: JSON.stringify(event) };
}

/** The committed assertion stack's custom resources, by service and API. */
function assertion(service: string, api: string, n = 0): { expected: unknown; actualPath?: string } {
  const file = readFileSync(join(SNAPSHOT_DIR, 'manifest.json'), 'utf8');
  const stack = Object.keys(JSON.parse(file).artifacts).find(
    (a) => a.includes('DeployAssert') && !a.includes('.'),
  );
  const template = JSON.parse(readFileSync(join(SNAPSHOT_DIR, `${stack}.template.json`), 'utf8'));
  const calls = Object.values(template.Resources as Record<string, { Type: string; Properties: never }>)
    .filter((r) => r.Type === `Custom::DeployAssert@SdkCall${service}${api}`)
    .map((r) => r.Properties as { expected: unknown; actualPath?: string });
  return calls[n];
}

/** The `expected` text as CloudFormation resolves it: Fn::Join parts, Fn::GetAtt replaced by `attributes`. */
function resolved(expected: unknown, attributes: Record<string, string> = {}): string {
  if (typeof expected === 'string') return expected;
  const [, parts] = (expected as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts
    .map((p) => (typeof p === 'string' ? p : attributes[(p as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][1]]))
    .join('');
}

/** integ-tests-alpha 2.245's MatchCreator (providers/lambda-handler/assertion.ts), which the deployed handler runs. */
function deployedMatcher(expected: string): Matcher {
  const parsedObj = { matcher: JSON.parse(expected) };
  try {
    const final = JSON.parse(JSON.stringify(parsedObj), function (_k, v) {
      const nested = Object.keys(v)[0];
      switch (nested) {
        case '$ArrayWith':
          return Match.arrayWith(v[nested]);
        case '$ObjectLike':
          return Match.objectLike(v[nested]);
        case '$StringLike':
          return Match.stringLikeRegexp(v[nested]);
        case '$SerializedJson':
          return Match.serializedJson(v[nested]);
        default:
          return v;
      }
    });
    return Matcher.isMatcher(final.matcher) ? final.matcher : Match.exact(final.matcher);
  } catch {
    return Match.exact(parsedObj.matcher);
  }
}

function passes(expected: string, actual: unknown): boolean {
  const result = deployedMatcher(expected).test(actual);
  result.finished();
  return !result.hasFailed();
}

test('the copy of the matcher decodes exactly the keys the deployed handler does', () => {
  const bundle = readFileSync(
    require.resolve('@aws-cdk/integ-tests-alpha/lib/assertions/providers/lambda-handler.bundle/index.js'),
    'utf8',
  );
  const body = bundle.slice(bundle.indexOf('var MatchCreator'), bundle.indexOf('function decodeCall'));
  expect([...body.matchAll(/case "(\$\w+)"/g)].map((m) => m[1])).toEqual([
    '$ArrayWith',
    '$ObjectLike',
    '$StringLike',
    '$SerializedJson',
  ]);
});

describe('(a) the signed webhook', () => {
  test('the sender signs as the verifier checks: published, and its event is what the queue assertion wants', async () => {
    const handler = sender(ENV, await verifierEndpoint());
    const out = (await handler({}, { awsRequestId: 'req-1' })) as { verdict: string; fineTuneId: string };
    expect(out).toEqual({ verdict: 'published', fineTuneId: 'ft-integ-req-1' });
    const send = assertion('Lambda', 'invoke', 0);
    expect(send.actualPath).toBe('Payload.verdict');
    expect(passes(resolved(send.expected), out.verdict)).toBe(true);

    const entries = bus.entries();
    expect(entries).toHaveLength(1);
    const queue = resolved(assertion('SQS', 'receiveMessage').expected, {
      'apiCallResponse.Payload.fineTuneId': out.fineTuneId,
    });
    const other = queueMessage({
      ...entries[0],
      Detail: entries[0].Detail.split('ft-integ-req-1').join('ft-other'),
    });
    expect(passes(queue, { Messages: [queueMessage(entries[0])] })).toBe(true);
    expect(passes(queue, { Messages: [other, queueMessage(entries[0])] })).toBe(true);
    // A real fine-tune the poller published, or an empty receive, is not it: the waiter receives again.
    expect(passes(queue, { Messages: [other] })).toBe(false);
    expect(passes(queue, {})).toBe(false);
  });

  test('a second send is a new event (its own ids), not a duplicate the verifier would drop', async () => {
    const handler = sender(ENV, await verifierEndpoint());
    const first = (await handler({}, { awsRequestId: 'req-a' })) as { verdict: string };
    const second = (await handler({}, { awsRequestId: 'req-b' })) as { verdict: string };
    expect([first.verdict, second.verdict]).toEqual(['published', 'published']);
    expect(bus.entries()).toHaveLength(2);
  });

  test('a refused webhook fails the assertion with what the verifier said', async () => {
    const refuse = async () => new Response('{"error":"signature does not match"}', { status: 401 });
    const out = (await sender(ENV, refuse)({}, { awsRequestId: 'req-2' })) as { verdict: string };
    expect(out.verdict).toBe('HTTP 401: {"error":"signature does not match"}');
    expect(passes(resolved(assertion('Lambda', 'invoke', 0).expected), out.verdict)).toBe(false);
    const unreachable = async () => {
      throw new Error('getaddrinfo ENOTFOUND');
    };
    const down = (await sender(ENV, unreachable)({}, { awsRequestId: 'req-3' })) as { verdict: string };
    expect(down.verdict).toBe('error: getaddrinfo ENOTFOUND');
  });
});

describe('(b) the poller run', () => {
  const invoke = (summary: unknown) => ({
    StatusCode: 200,
    ExecutedVersion: '$LATEST',
    Payload: JSON.stringify(summary),
  });
  const poller = () => resolved(assertion('Lambda', 'invoke', 1).expected);

  test('a completed poll passes', () => {
    expect(passes(poller(), invoke({ outcome: 'completed', published: 0, errors: 0 }))).toBe(true);
  });

  test('a skipped (lease held), stopped or incomplete poll, or a crash, does not (the waiter invokes again)', () => {
    for (const outcome of ['skipped', 'stopped', 'incomplete']) {
      expect(passes(poller(), invoke({ outcome, reason: 'x' }))).toBe(false);
    }
    const crash = {
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: '{"errorMessage":"poller misconfigured"}',
    };
    expect(passes(poller(), crash)).toBe(false);
  });
});
