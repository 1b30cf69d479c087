import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { extractSecret, SecretFormatError } from '../../../lambda/shared/secret-value';
import { SecretCache, secretsManagerFetch } from '../../../lambda/verifier/secrets';

const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together-signing-AbCdEf';

describe('SecretCache', () => {
  function countingFetch(values: string[][]) {
    let calls = 0;
    return {
      get calls() {
        return calls;
      },
      fetch: async () => values[Math.min(calls++, values.length - 1)],
    };
  }

  test('serves from cache within the TTL and reloads after it', async () => {
    const source = countingFetch([['one'], ['two']]);
    const cache = new SecretCache(source.fetch, 'together-hmac', 300_000, 10_000);
    const first = await cache.get(0);
    expect(first.keys.map(String)).toEqual(['one']);
    await cache.get(299_999);
    expect(source.calls).toBe(1);
    const later = await cache.get(300_000);
    expect(later.keys.map(String)).toEqual(['two']);
    expect(source.calls).toBe(2);
  });

  test('refresh reloads a stale cache but not one younger than the minimum interval', async () => {
    const source = countingFetch([['old'], ['new']]);
    const cache = new SecretCache(source.fetch, 'together-hmac', 300_000, 10_000);
    await cache.get(0);
    expect(await cache.refresh(9_999)).toBeUndefined();
    expect(source.calls).toBe(1);
    const fresh = await cache.refresh(10_000);
    expect(fresh?.keys.map(String)).toEqual(['new']);
    expect(source.calls).toBe(2);
  });

  test('concurrent cold requests share one fetch', async () => {
    const source = countingFetch([['one']]);
    const cache = new SecretCache(source.fetch, 'together-hmac', 300_000, 10_000);
    await Promise.all([cache.get(0), cache.get(0), cache.get(0)]);
    expect(source.calls).toBe(1);
  });

  test('Secrets Manager down past the TTL: the last good keys serve, marked stale, for an hour at most', async () => {
    let down = false;
    let calls = 0;
    const cache = new SecretCache(
      async () => {
        calls++;
        if (down) throw new Error('ServiceUnavailableException');
        return ['good'];
      },
      'together-hmac',
      300_000,
      10_000,
      3_600_000,
    );
    expect((await cache.get(0)).stale).toBeUndefined();
    down = true;
    const stale = await cache.get(300_000);
    expect(stale).toMatchObject({ stale: true, loadedAtMs: 0 });
    expect(stale.keys.map(String)).toEqual(['good']);
    expect(String(stale.error)).toContain('ServiceUnavailableException');
    // Not asked again on every request while it is down: once per minimum refresh interval.
    await cache.get(305_000);
    expect(calls).toBe(2);
    await cache.get(310_000);
    expect(calls).toBe(3);
    // Past TTL plus the grace hour: no more stale keys.
    await expect(cache.get(300_000 + 3_600_000)).rejects.toThrow('ServiceUnavailableException');
    // Back up: fresh keys, no longer stale.
    down = false;
    expect((await cache.get(4_000_000)).stale).toBeUndefined();
  });

  test('a failed fetch is not cached: the next request tries again', async () => {
    let calls = 0;
    const cache = new SecretCache(
      async () => {
        if (calls++ === 0) throw new Error('throttled');
        return ['ok'];
      },
      'together-hmac',
      300_000,
      10_000,
    );
    await expect(cache.get(0)).rejects.toThrow('throttled');
    expect((await cache.get(1)).keys.map(String)).toEqual(['ok']);
  });
});

describe('extractSecret', () => {
  test('a plain SecretString is the secret', () => {
    expect(extractSecret('plain-value', undefined)).toBe('plain-value');
  });
  test('with a field configured, that field of a JSON SecretString', () => {
    expect(extractSecret('{"signingSecret":"s3cr3t","other":1}', 'signingSecret')).toBe('s3cr3t');
  });
  test.each([
    ['not JSON', 'plain', /not JSON/],
    ['missing field', '{"other":"x"}', /no non-empty string field "signingSecret"/],
    ['null JSON', 'null', /no non-empty string field/],
    ['number field', '{"signingSecret":5}', /no non-empty string field/],
  ])('%s is a SecretFormatError that does not echo the value', (_name, value, message) => {
    let thrown: unknown;
    try {
      extractSecret(value, 'signingSecret');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SecretFormatError);
    expect(String(thrown)).toMatch(message);
    expect(String(thrown)).not.toContain('"x"');
  });
  test('binary secrets are refused clearly', () => {
    expect(() => extractSecret(undefined, undefined)).toThrow(/binary secrets are not supported/);
  });
});

describe('secretsManagerFetch (Secrets Manager stubbed at the SDK boundary)', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());
  afterAll(() => sm.restore());

  test('reads AWSCURRENT and AWSPREVIOUS of the configured secret, current first', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: 'new',
    });
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionStage: 'AWSPREVIOUS' }).resolves({
      SecretString: 'old',
    });
    const values = await secretsManagerFetch(new SecretsManagerClient({}), ARN, undefined)();
    expect(values).toEqual(['new', 'old']);
    const sent = sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input);
    expect(sent).toEqual(
      expect.arrayContaining([
        { SecretId: ARN, VersionStage: 'AWSCURRENT' },
        { SecretId: ARN, VersionStage: 'AWSPREVIOUS' },
      ]),
    );
    expect(sent).toHaveLength(2);
  });

  test('no previous version (never rotated) is fine', async () => {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: 'only' });
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(
      new ResourceNotFoundException({ message: 'no such version', $metadata: {} }),
    );
    expect(await secretsManagerFetch(new SecretsManagerClient({}), ARN, undefined)()).toEqual(['only']);
  });

  test('a previous version in an old format is skipped; the current one must be right', async () => {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: '{"signingSecret":"s"}',
    });
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: 'plain-old' });
    expect(await secretsManagerFetch(new SecretsManagerClient({}), ARN, 'signingSecret')()).toEqual(['s']);
  });

  test('the same value in both stages is one key', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'same' });
    expect(await secretsManagerFetch(new SecretsManagerClient({}), ARN, undefined)()).toEqual(['same']);
  });

  test('a Secrets Manager failure on the current version propagates', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }),
    );
    await expect(secretsManagerFetch(new SecretsManagerClient({}), ARN, undefined)()).rejects.toThrow(
      'slow down',
    );
  });
});
