import { SignatureScheme } from '../../../lib/signature-scheme';
import { readVerifierConfig } from '../../../lambda/verifier/config';

const ENV = {
  SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:signing-AbCdEf',
  TABLE_NAME: 'dedupe',
  CLAIM_SCOPE: 'c8abc',
  EVENT_BUS_NAME: 'bus',
};

test('the defaults when only the required names are set', () => {
  expect(readVerifierConfig(ENV)).toEqual({
    secretArn: ENV.SECRET_ARN,
    secretJsonField: undefined,
    scheme: 'together-hmac',
    secretCacheTtlMs: 300_000,
    tableName: 'dedupe',
    claimScope: 'c8abc',
    eventBusName: 'bus',
    retentionSeconds: 7 * 86400,
    metricsNamespace: 'TogetherWebhooks',
    metricsService: 'together-webhooks',
  });
});

test('what the construct writes is read; empty values count as absent', () => {
  const config = readVerifierConfig({
    ...ENV,
    SECRET_JSON_FIELD: 'signingSecret',
    SIGNATURE_SCHEME: 'standard-webhooks',
    SECRET_CACHE_TTL_SECONDS: '60',
    RETENTION_DAYS: '0.5',
    METRICS_NAMESPACE: 'Mine',
    AWS_LAMBDA_FUNCTION_NAME: 'verifier-fn',
  });
  expect(config).toMatchObject({
    secretJsonField: 'signingSecret',
    scheme: 'standard-webhooks',
    secretCacheTtlMs: 60_000,
    retentionSeconds: 43_200,
    metricsNamespace: 'Mine',
    metricsService: 'verifier-fn',
  });
  expect(
    readVerifierConfig({ ...ENV, METRICS_SERVICE: 'svc', AWS_LAMBDA_FUNCTION_NAME: 'fn' }).metricsService,
  ).toBe('svc');
  expect(
    readVerifierConfig({ ...ENV, SIGNATURE_SCHEME: '', SECRET_JSON_FIELD: '', SECRET_CACHE_TTL_SECONDS: '' }),
  ).toMatchObject({ scheme: 'together-hmac', secretJsonField: undefined, secretCacheTtlMs: 300_000 });
});

test.each([
  [{ SECRET_ARN: '' }, 'environment variable SECRET_ARN is required'],
  [{ TABLE_NAME: undefined }, 'environment variable TABLE_NAME is required'],
  [{ EVENT_BUS_NAME: undefined }, 'environment variable EVENT_BUS_NAME is required'],
  [{ CLAIM_SCOPE: undefined }, 'environment variable CLAIM_SCOPE is required'],
  [
    { SIGNATURE_SCHEME: 'md5' },
    'SIGNATURE_SCHEME must be one of together-hmac, standard-webhooks, got "md5"',
  ],
  [{ SECRET_CACHE_TTL_SECONDS: '0' }, 'SECRET_CACHE_TTL_SECONDS must be a positive number, got "0"'],
  [{ SECRET_CACHE_TTL_SECONDS: 'soon' }, 'SECRET_CACHE_TTL_SECONDS must be a positive number, got "soon"'],
  [{ RETENTION_DAYS: '-1' }, /^RETENTION_DAYS must be a positive number/],
  [{ CLAIM_SCOPE: 'a#b' }, /CLAIM_SCOPE must be 1-100 letters/],
])('%j is refused: %s', (change, message) => {
  expect(() => readVerifierConfig({ ...ENV, ...change })).toThrow(message);
});

test('every signature scheme the construct can be given is one the verifier reads', () => {
  for (const scheme of [SignatureScheme.togetherHmac(), SignatureScheme.standardWebhooks()]) {
    expect(readVerifierConfig({ ...ENV, SIGNATURE_SCHEME: scheme.name }).scheme).toBe(scheme.name);
  }
});
