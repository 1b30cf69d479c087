import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseSettings } from '../../../lambda/registration/config';
import {
  CustomResourceEvent,
  onEvent,
  RegistrationDeps,
  registeredUrl,
  UNSUPPORTED_PREFIX,
} from '../../../lambda/registration/core';
import { LogLine } from '../../../lambda/shared/log';
import { readSecret } from '../../../lambda/shared/secret-value';
import { ApiClock, backoffMs, retryAfterMs } from '../../../lambda/shared/together-api';
import { FakeTogether, RecordedRequest, TOGETHER_ERROR } from '../../support/fake-together';

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';
const SIGNING_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:HooksSigningSecret-XyZ123';
const SIGNING_SECRET = 'signing-secret-value-do-not-leak';

const together = new FakeTogether();
const sm = mockClient(SecretsManagerClient);
let signingSecret = SIGNING_SECRET;
let storedApiKey = together.apiKey;

beforeAll(() => together.start());
afterAll(async () => {
  sm.restore();
  await together.stop();
});
beforeEach(() => {
  together.reset();
  sm.reset();
  signingSecret = SIGNING_SECRET;
  storedApiKey = together.apiKey;
  sm.on(GetSecretValueCommand, { SecretId: API_KEY_ARN }).callsFake(() => ({
    SecretString: storedApiKey,
    VersionId: 'key-v1',
  }));
  sm.on(GetSecretValueCommand, { SecretId: SIGNING_ARN }).callsFake(() => ({
    SecretString: JSON.stringify({ signingSecret }),
    VersionId: `sig-${signingSecret.length}`,
  }));
});

/** A clock whose sleeps pass instantly but advance time, so backoff is tested without waiting for it. */
function fakeClock(start = 1_000_000): ApiClock & { sleeps: number[]; t: number } {
  const clock = {
    t: start,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
    random: () => 0.5,
  };
  return clock;
}

let logs: LogLine[];
function deps(clock = fakeClock(), budgetMs = 60_000): RegistrationDeps {
  logs = [];
  return {
    readSecret: (arn, field, label) => readSecret(new SecretsManagerClient({}), arn, field, { label }),
    clock,
    deadlineMs: clock.now() + budgetMs,
    log: (line) => logs.push(line),
  };
}

function properties(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:provider',
    Url: 'https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/together',
    Events: ['fine_tune.completed', 'batch.done'],
    ApiBaseUrl: together.baseUrl,
    Required: 'false',
    ApiKeySecretArn: API_KEY_ARN,
    ApiKeySecretName: 'together/api-key',
    SigningSecretArn: SIGNING_ARN,
    SigningSecretJsonField: 'signingSecret',
    SecretVersion: '1',
    ...overrides,
  };
}

function event(
  RequestType: CustomResourceEvent['RequestType'],
  props: Record<string, unknown>,
  extra: Partial<CustomResourceEvent> = {},
): CustomResourceEvent {
  return {
    RequestType,
    ResourceProperties: props,
    ResponseURL:
      'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/presigned?X-Amz-Signature=abc',
    StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/Example/1',
    RequestId: 'req-1',
    LogicalResourceId: 'HooksRegistration',
    ...extra,
  };
}

const webhookCalls = () => together.requests.filter((r) => r.path.startsWith('/v1/webhooks'));

describe('create, update, delete', () => {
  test("Create registers {url, events, secret} with the Bearer key; the physical id is Together's id", async () => {
    const result = await onEvent(event('Create', properties()), deps());
    expect(result).toEqual({
      PhysicalResourceId: 'wh_1',
      Data: { Status: 'registered', WebhookId: 'wh_1', SecretVersionId: `sig-${SIGNING_SECRET.length}` },
    });
    const [post] = webhookCalls();
    expect(post.method).toBe('POST');
    expect(post.headers.authorization).toBe(`Bearer ${together.apiKey}`);
    expect(post.headers['content-type']).toBe('application/json');
    // The endpoint, tagged with this registration's settings (Delete finds its orphans by it).
    expect(post.body).toEqual({
      url: expect.stringMatching(
        /^https:\/\/abc123\.execute-api\.us-east-1\.amazonaws\.com\/webhooks\/together\?registration=[0-9a-f]{12}$/,
      ),
      events: ['batch.done', 'fine_tune.completed'],
      secret: SIGNING_SECRET,
    });
    expect((post.body as { url: string }).url).toBe(registeredUrl(parseSettings(properties())));
    expect([...together.webhooks.keys()]).toEqual(['wh_1']);
  });

  test("Update with other events registers anew; CloudFormation's Delete of the old id then removes it", async () => {
    await onEvent(event('Create', properties()), deps());
    const changed = properties({ Events: ['fine_tune.failed'] });
    const updated = await onEvent(
      event('Update', changed, { PhysicalResourceId: 'wh_1', OldResourceProperties: properties() }),
      deps(),
    );
    expect(updated.PhysicalResourceId).toBe('wh_2');
    expect(together.webhooks.get('wh_2')?.events).toEqual(['fine_tune.failed']);
    await onEvent(event('Delete', properties(), { PhysicalResourceId: 'wh_1' }), deps());
    expect([...together.webhooks.keys()]).toEqual(['wh_2']);
  });

  test('Update after rotating the signing secret (SecretVersion bumped) sends the new secret', async () => {
    await onEvent(event('Create', properties()), deps());
    signingSecret = 'rotated-signing-secret';
    const updated = await onEvent(
      event('Update', properties({ SecretVersion: '2' }), {
        PhysicalResourceId: 'wh_1',
        OldResourceProperties: properties(),
      }),
      deps(),
    );
    expect(updated.PhysicalResourceId).toBe('wh_2');
    expect(together.webhooks.get('wh_2')?.secret).toBe('rotated-signing-secret');
  });

  test('Update that changes nothing Together sees keeps the id and calls nobody', async () => {
    await onEvent(event('Create', properties()), deps());
    together.requests.length = 0;
    const same = await onEvent(
      event('Update', properties({ Required: 'true', Events: ['batch.done', 'fine_tune.completed'] }), {
        PhysicalResourceId: 'wh_1',
        OldResourceProperties: properties(),
      }),
      deps(),
    );
    expect(same.PhysicalResourceId).toBe('wh_1');
    expect(together.requests).toEqual([]);
  });

  test('Delete removes the webhook; Delete of one already gone succeeds', async () => {
    await onEvent(event('Create', properties()), deps());
    await onEvent(event('Delete', properties(), { PhysicalResourceId: 'wh_1' }), deps());
    expect(together.webhooks.size).toBe(0);
    await expect(
      onEvent(event('Delete', properties(), { PhysicalResourceId: 'wh_1' }), deps()),
    ).resolves.toMatchObject({ PhysicalResourceId: 'wh_1' });
    expect(webhookCalls().map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/webhooks',
      'GET /v1/webhooks',
      'DELETE /v1/webhooks/wh_1',
      'GET /v1/webhooks',
      'DELETE /v1/webhooks/wh_1',
    ]);
  });

  test('Delete after a failed Create (the request id as physical id, nothing registered) only looks', async () => {
    await onEvent(event('Delete', properties(), { PhysicalResourceId: 'HooksRegistration/req 1' }), deps());
    expect(webhookCalls().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/webhooks']);
  });
});

describe('registration never orphans a webhook (issue 10)', () => {
  test('a POST whose answer is lost after Together created the webhook: listed, adopted, never created twice', async () => {
    together.script('POST', /webhooks$/, { status: 0, handledThenLost: true });
    const result = await onEvent(event('Create', properties()), deps());
    expect(result.PhysicalResourceId).toBe('wh_1');
    expect([...together.webhooks.keys()]).toEqual(['wh_1']);
    expect(webhookCalls().map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/webhooks',
      'GET /v1/webhooks',
    ]);
    expect(logs).toContainEqual(expect.objectContaining({ message: 'webhook adopted', webhookId: 'wh_1' }));
  });

  test('a 5xx that created nothing: the list shows none, the POST is tried again once', async () => {
    together.script('POST', /webhooks$/, { status: 502, body: TOGETHER_ERROR('bad gateway') });
    const result = await onEvent(event('Create', properties()), deps());
    expect(result.PhysicalResourceId).toBe('wh_1');
    expect(webhookCalls().map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/webhooks',
      'GET /v1/webhooks',
      'POST /v1/webhooks',
    ]);
  });

  test('an answer lost where webhooks cannot be listed: no retry, and the failure says what may exist', async () => {
    together.webhooksListSupported = false;
    together.script('POST', /webhooks$/, { status: 0, handledThenLost: true });
    const url = registeredUrl(parseSettings(properties()));
    await expect(onEvent(event('Create', properties()), deps())).rejects.toThrow(
      `so Together may have created a webhook for ${url}. Its API cannot list webhooks to check, so this deploy does not try again`,
    );
    expect(webhookCalls().filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  test('Delete removes every webhook of this registration, orphans included, and none of its replacement', async () => {
    // Two of ours (one an orphan of a lost answer), and the replacement registered with other events.
    together.script(
      'POST',
      /webhooks$/,
      { status: 0, handledThenLost: true },
      { status: 0, handledThenLost: true },
    );
    together.webhooksListSupported = false;
    await expect(onEvent(event('Create', properties()), deps())).rejects.toThrow();
    together.webhooksListSupported = true;
    await onEvent(event('Create', properties()), deps());
    expect(together.webhooks.size).toBe(2);
    const replacement = await onEvent(
      event('Update', properties({ Events: ['fine_tune.failed'] }), {
        PhysicalResourceId: 'wh_2',
        OldResourceProperties: properties(),
      }),
      deps(),
    );
    await onEvent(event('Delete', properties(), { PhysicalResourceId: 'wh_2' }), deps());
    expect([...together.webhooks.keys()]).toEqual([replacement.PhysicalResourceId]);
  });
});

test('an http:// base URL is refused when the resource runs (a token passed synth), loopback aside', () => {
  expect(() => parseSettings(properties({ ApiBaseUrl: 'http://api.together.xyz/v1' }))).toThrow(
    'Custom::TogetherWebhook: ApiBaseUrl must be https (http only for 127.0.0.1 or localhost), got "http://api.together.xyz/v1"',
  );
  expect(parseSettings(properties({ ApiBaseUrl: 'http://localhost:4010/v1' })).apiBaseUrl).toBe(
    'http://localhost:4010/v1',
  );
});

describe('Together refusing', () => {
  test('a bad API key fails at once with the secret to fix, and nothing is registered', async () => {
    storedApiKey = 'tgp_revoked_key';
    await expect(onEvent(event('Create', properties()), deps())).rejects.toThrow(
      /Together rejected the API key .*HTTP 401 invalid_request_error \(invalid_api_key\): Invalid API key provided.*Check or rotate the secret together\/api-key/,
    );
    expect(webhookCalls()).toHaveLength(1);
    expect(together.webhooks.size).toBe(0);
  });

  test('402 says the account is out of credits', async () => {
    together.script('POST', /webhooks/, {
      status: 402,
      body: TOGETHER_ERROR('Insufficient balance', 'billing_error'),
    });
    await expect(onEvent(event('Create', properties()), deps())).rejects.toThrow(
      /out of credits.*Insufficient balance/,
    );
  });

  test("400 passes on Together's message", async () => {
    together.script('POST', /webhooks/, { status: 400, body: TOGETHER_ERROR('url must be reachable') });
    await expect(onEvent(event('Create', properties()), deps())).rejects.toThrow(
      'Together refused to register the webhook (HTTP 400 invalid_request_error: url must be reachable).',
    );
  });

  test('429 with retry-after-ms, then success: waits as told and registers once', async () => {
    together.script('POST', /webhooks/, {
      status: 429,
      headers: { 'retry-after-ms': '1500', 'x-ratelimit-remaining': '0' },
      body: TOGETHER_ERROR('Rate limit exceeded', 'rate_limit_exceeded'),
    });
    const clock = fakeClock();
    const result = await onEvent(event('Create', properties()), deps(clock));
    expect(result.PhysicalResourceId).toBe('wh_1');
    expect(clock.sleeps).toEqual([1500]);
    expect(together.webhooks.size).toBe(1);
  });

  test('Retry-After in seconds is honoured too', async () => {
    together.script('POST', /webhooks/, {
      status: 503,
      headers: { 'retry-after': '3' },
      body: TOGETHER_ERROR('busy'),
    });
    const clock = fakeClock();
    await onEvent(event('Create', properties()), deps(clock));
    expect(clock.sleeps).toEqual([3000]);
  });

  test('500 until give-up: exponential backoff with jitter, bounded by the handler time, then a clear failure', async () => {
    const always500 = Array.from({ length: 20 }, () => ({
      status: 500,
      body: TOGETHER_ERROR('boom', 'server_error'),
    }));
    together.script('POST', /webhooks/, ...always500);
    const clock = fakeClock();
    const started = clock.t;
    await expect(onEvent(event('Create', properties()), deps(clock, 10_000))).rejects.toThrow(
      /Together kept answering HTTP 500 server_error: boom after \d attempts/,
    );
    // random() = 0.5: half of 500, 1000, 2000, 4000 ... ms, and never past the 10 s budget.
    expect(clock.sleeps.slice(0, 3)).toEqual([250, 500, 1000]);
    expect(clock.t - started).toBeLessThan(10_000);
    expect(together.webhooks.size).toBe(0);
  });
});

describe('Together without a webhooks API (today)', () => {
  test('404 -> status "unsupported", the deploy succeeds, and the later Delete calls nobody', async () => {
    together.webhooksSupported = false;
    const result = await onEvent(event('Create', properties()), deps());
    expect(result.Data.Status).toBe('unsupported');
    expect(result.PhysicalResourceId.startsWith(UNSUPPORTED_PREFIX)).toBe(true);
    expect(logs).toEqual(
      expect.arrayContaining([expect.objectContaining({ message: 'Together has no webhooks endpoint' })]),
    );
    together.requests.length = 0;
    await onEvent(event('Delete', properties(), { PhysicalResourceId: result.PhysicalResourceId }), deps());
    expect(together.requests).toEqual([]);
  });

  test('405 counts as missing too', async () => {
    together.script('POST', /webhooks/, { status: 405, body: TOGETHER_ERROR('Method not allowed') });
    expect((await onEvent(event('Create', properties()), deps())).Data.Status).toBe('unsupported');
  });

  test('required: true fails the deploy, saying so and pointing to the poller', async () => {
    together.webhooksSupported = false;
    await expect(onEvent(event('Create', properties({ Required: 'true' })), deps())).rejects.toThrow(
      /no webhooks endpoint.*registration is required \(required: true\).*Turn on the poller/,
    );
  });

  test('an Update of an "unsupported" registration tries again, and registers once Together supports it', async () => {
    together.webhooksSupported = false;
    const first = await onEvent(event('Create', properties()), deps());
    together.webhooksSupported = true;
    const again = await onEvent(
      event('Update', properties(), {
        PhysicalResourceId: first.PhysicalResourceId,
        OldResourceProperties: properties(),
      }),
      deps(),
    );
    expect(again).toMatchObject({ PhysicalResourceId: 'wh_1', Data: { Status: 'registered' } });
  });
});

describe('secrets stay secret', () => {
  test('neither the API key nor the signing secret appears in logs, returned data or errors', async () => {
    const outputs: string[] = [];
    outputs.push(JSON.stringify(await onEvent(event('Create', properties()), deps())));
    outputs.push(JSON.stringify(logs));
    storedApiKey = 'tgp_revoked_key';
    await onEvent(event('Create', properties()), deps()).catch((err) => outputs.push(String(err)));
    expect(outputs).toHaveLength(3);
    outputs.push(JSON.stringify(logs));
    const all = outputs.join('\n');
    expect(all).not.toContain(SIGNING_SECRET);
    expect(all).not.toContain(together.apiKey);
    expect(all).not.toContain('tgp_revoked_key');
    expect(all).not.toContain('X-Amz-Signature');
    expect(logs[0]).toMatchObject({ responseUrl: '***' });
  });

  /** Every form a reflected body could carry a secret in: as is, JSON-escaped, URL- and form-encoded. */
  const forms = (secret: string) => [
    secret,
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(JSON.stringify(secret)).slice(1, -1),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ];
  /** Ways a server echoes what it was sent into its error answer. */
  const reflections: Array<[string, (req: RecordedRequest) => unknown]> = [
    [
      'the body, as JSON text in the message',
      (req) => TOGETHER_ERROR(`bad body: ${JSON.stringify(req.body)}`),
    ],
    [
      'the fields, URL-encoded',
      (req) => {
        const b = req.body as Record<string, string> | undefined;
        const query = new URLSearchParams({ secret: b?.secret ?? '', key: req.headers.authorization ?? '' });
        return TOGETHER_ERROR(`rejected ${query.toString()}`);
      },
    ],
    [
      'the secret itself, as type and code',
      (req) => ({
        error: {
          message: `no: ${req.headers.authorization}`,
          type: (req.body as { secret?: string } | undefined)?.secret ?? 'none',
          code: encodeURIComponent((req.body as { secret?: string } | undefined)?.secret ?? ''),
        },
      }),
    ],
    ['the whole request', (req) => ({ error: JSON.stringify(req) })],
  ];

  test.each(reflections)(
    'Together echoing %s in its refusals: neither secret, in any form, in errors or logs',
    async (_, reply) => {
      // A secret JSON and URLs must escape, so each form differs.
      signingSecret = 'sig"ne\\d/s\u00e9cret+ 1&=%';
      storedApiKey = 'tgp_key"/\\+ &';
      together.apiKey = storedApiKey;
      const outputs: string[] = [];
      const capture = (err: unknown) =>
        void outputs.push(String(err), JSON.stringify(err), (err as Error).stack ?? '');
      // Refused outright (400), and refused until give-up (500: the POST is retried, the list read in between).
      together.script('POST', /webhooks/, { status: 400, reply });
      await onEvent(event('Create', properties()), deps()).then(() => outputs.push('registered'), capture);
      outputs.push(JSON.stringify(logs));
      together.script('POST', /webhooks/, ...Array.from({ length: 8 }, () => ({ status: 500, reply })));
      await onEvent(event('Create', properties()), deps(fakeClock(), 5_000)).then(
        () => outputs.push('registered'),
        capture,
      );
      outputs.push(JSON.stringify(logs));
      // The list that follows a lost answer refusing, and a Delete refused.
      together.script('POST', /webhooks/, { status: 502, reply });
      together.script('GET', /webhooks/, { status: 400, reply });
      await onEvent(event('Create', properties()), deps()).then(() => outputs.push('registered'), capture);
      together.script('DELETE', /webhooks/, { status: 400, reply });
      together.script('GET', /webhooks/, { status: 400, reply });
      await onEvent(event('Delete', properties(), { PhysicalResourceId: 'wh_1' }), deps()).then(
        () => outputs.push('deleted'),
        capture,
      );
      outputs.push(JSON.stringify(logs));
      expect(outputs.filter((o) => o === 'registered' || o === 'deleted')).toEqual([]);
      const all = outputs.join('\n');
      // What Together said still shows.
      expect(all).toMatch(/\[signing secret\]|\[API key\]/);
      for (const form of [...forms(signingSecret), ...forms(storedApiKey)]) expect(all).not.toContain(form);
    },
  );

  test('an id that carries the signing secret is not recorded as the physical id or returned data', async () => {
    together.script('POST', /webhooks/, {
      status: 200,
      reply: (req) => ({ id: `wh_${(req.body as { secret: string }).secret}`, object: 'webhook' }),
    });
    const outcome = await onEvent(event('Create', properties()), deps()).then(
      (result) => JSON.stringify(result),
      (err: Error) => err.message,
    );
    expect(outcome).toMatch(/webhook id that carries the signing secret/);
    expect(outcome + JSON.stringify(logs)).not.toContain(SIGNING_SECRET);
  });

  test('secrets are read from Secrets Manager by ARN at run time', async () => {
    await onEvent(event('Create', properties()), deps());
    const ids = sm
      .commandCalls(GetSecretValueCommand)
      .map((c) => c.args[0].input.SecretId)
      .sort();
    expect(ids).toEqual([SIGNING_ARN, API_KEY_ARN].sort());
  });
});

describe('properties', () => {
  test.each([
    [{ Events: [] }, /Events must be a non-empty list/],
    [
      { Url: 'http://insecure.example.com/hook' },
      /Url must be an https URL, got "http:\/\/insecure.example.com\/hook"/,
    ],
    [{ Required: 'yes' }, /Required must be true or false, got "yes"/],
    [{ ApiKeySecretArn: undefined }, /ApiKeySecretArn is required/],
  ])('%j is refused with a reason', (override, message) => {
    expect(() => parseSettings(properties(override))).toThrow(message);
  });

  test("defaults: Together's public base URL, not required, version 1", () => {
    const s = parseSettings(
      properties({ ApiBaseUrl: undefined, Required: undefined, SecretVersion: undefined }),
    );
    expect(s).toMatchObject({
      apiBaseUrl: 'https://api.together.xyz/v1',
      required: false,
      secretVersion: '1',
    });
  });
});

describe('retry timing helpers', () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  test('retry-after-ms wins, then Retry-After seconds, then an HTTP date', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }), 0)).toBe(250);
    expect(retryAfterMs(headers({ 'retry-after': '2' }), 0)).toBe(2000);
    const now = Date.UTC(2026, 10, 23, 12, 0, 0);
    expect(retryAfterMs(headers({ 'retry-after': new Date(now + 4000).toUTCString() }), now)).toBe(4000);
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
  });

  test('full jitter below an exponential cap', () => {
    expect(backoffMs(0, 0.999)).toBe(499);
    expect(backoffMs(3, 0.5)).toBe(2000);
    expect(backoffMs(20, 0.999)).toBe(19_980);
    expect(backoffMs(5, 0)).toBe(0);
  });
});

test("a network failure after a 429 backs off on its own schedule, not the 429's old Retry-After", async () => {
  // The first POST gets 429 with a long wait; the second finds its connection reset before any answer.
  const clock = fakeClock();
  together.script(
    'POST',
    /webhooks/,
    {
      status: 429,
      headers: { 'retry-after-ms': '7000' },
      body: TOGETHER_ERROR('slow down', 'rate_limit_exceeded'),
    },
    { status: 0, drop: true },
  );
  await onEvent(event('Create', properties()), deps(clock));
  // 7000 ms as told after the 429, then jittered backoff (0.5 * 1000) after the dropped connection.
  expect(clock.sleeps).toEqual([7000, 500]);
  expect(together.webhooks.size).toBe(1);
});
