import { listedJobsFor, readPollerEnv } from '../../../lambda/poller/config';

const base = {
  TABLE_NAME: 'dedupe',
  STATE_SCOPE: 'c8a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e',
  CLAIM_SCOPE: 'c8f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d',
  EVENT_BUS_NAME: 'bus',
  API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:k-AbCdEf',
};

test('defaults: Together public API, 6 h stall, 1 h missing model, 1 h lookback, 7 days retention', () => {
  expect(readPollerEnv(base)).toMatchObject({
    apiBaseUrl: 'https://api.together.xyz/v1',
    stateScope: base.STATE_SCOPE,
    claimScope: base.CLAIM_SCOPE,
    stallAfterMs: 6 * 3600_000,
    modelMissingMs: 3600_000,
    initialLookbackMs: 3600_000,
    retentionSeconds: 7 * 86400,
    watchModels: [],
    modelInfo: {},
    apiKeySecretName: base.API_KEY_SECRET_ARN,
  });
});

test.each([
  [{ TABLE_NAME: '' }, /TABLE_NAME is required/],
  [{ STATE_SCOPE: '' }, /STATE_SCOPE is required/],
  [{ STATE_SCOPE: 'a#b' }, /STATE_SCOPE must be 1-100 letters, digits, '_', '.' or '-', got "a#b"/],
  [{ CLAIM_SCOPE: '' }, /CLAIM_SCOPE is required/],
  [{ CLAIM_SCOPE: 'a*' }, /CLAIM_SCOPE must be 1-100 letters, digits, '_', '.' or '-', got "a\*"/],
  [
    { MODEL_MISSING_MINUTES: '-1' },
    /MODEL_MISSING_MINUTES must be a number of minutes \(at least 0\), got "-1"/,
  ],
  // A token can pass synth as the base URL: plain http is refused when it arrives, loopback aside.
  [
    { API_BASE_URL: 'http://api.together.xyz/v1' },
    /API_BASE_URL must be https \(http only for 127\.0\.0\.1 or localhost\), got "http:\/\/api\.together\.xyz\/v1"/,
  ],
  [{ WATCH_MODELS: 'a,b' }, /WATCH_MODELS must be JSON, got "a,b"/],
  [{ WATCH_MODELS: '[1]' }, /WATCH_MODELS has the wrong shape/],
  [{ MODEL_INFO: '[]' }, /MODEL_INFO has the wrong shape/],
  [{ STALL_AFTER_MINUTES: 'soon' }, /STALL_AFTER_MINUTES must be a number of minutes, got "soon"/],
  // Claims kept for NaN or no days would expire at once or never.
  [{ RETENTION_DAYS: 'week' }, /RETENTION_DAYS must be a positive number of days, got "week"/],
  [{ RETENTION_DAYS: '0' }, /RETENTION_DAYS must be a positive number of days, got "0"/],
  [{ RETENTION_DAYS: '-1' }, /RETENTION_DAYS must be a positive number of days, got "-1"/],
  [{ EVALUATIONS: 'yes' }, /EVALUATIONS must be "true" or "false", got "yes"/],
  [{ JOBS: 'on' }, /JOBS must be "true" or "false", got "on"/],
  [{ DEPLOYMENTS: '1' }, /DEPLOYMENTS must be "true" or "false", got "1"/],
  [
    { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: 'lots' },
    /AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a whole number of MB, got "lots"/,
  ],
])('%j is refused with what was wrong', (override, message) => {
  expect(() => readPollerEnv({ ...base, ...override })).toThrow(message);
});

test('a fractional retention is kept to the second', () => {
  expect(readPollerEnv({ ...base, RETENTION_DAYS: '0.5' }).retentionSeconds).toBe(43_200);
});

test('the opt-in sources follow their flags; fine-tunes and batches need none', () => {
  const off = {
    evaluations: false,
    endpoints: false,
    jobs: false,
    deployments: false,
    clusters: false,
    rlSessions: false,
    videos: false,
    queueJobs: false,
  };
  expect(readPollerEnv(base).sources).toEqual(off);
  expect(readPollerEnv({ ...base, EVALUATIONS: 'true' }).sources).toEqual({ ...off, evaluations: true });
  expect(readPollerEnv({ ...base, ENDPOINTS: 'true', EVALUATIONS: 'false' }).sources).toEqual({
    ...off,
    endpoints: true,
  });
  expect(readPollerEnv({ ...base, JOBS: 'true' }).sources).toEqual({ ...off, jobs: true });
  expect(readPollerEnv({ ...base, DEPLOYMENTS: 'true' }).sources).toEqual({ ...off, deployments: true });
  expect(readPollerEnv({ ...base, CLUSTERS: 'true' }).sources).toEqual({ ...off, clusters: true });
  expect(readPollerEnv({ ...base, RL_SESSIONS: 'true' }).sources).toEqual({ ...off, rlSessions: true });
  // One flag for both tracked sources.
  expect(readPollerEnv({ ...base, TRACKING: 'true' }).sources).toEqual({
    ...off,
    videos: true,
    queueJobs: true,
  });
});

test('tracked operations expire after a day unless told otherwise, in whole minutes', () => {
  expect(readPollerEnv(base).trackingExpiryMs).toBe(24 * 3600_000);
  expect(readPollerEnv({ ...base, TRACKING_EXPIRY_MINUTES: '90' }).trackingExpiryMs).toBe(90 * 60_000);
  expect(() => readPollerEnv({ ...base, TRACKING_EXPIRY_MINUTES: 'a day' })).toThrow(
    /TRACKING_EXPIRY_MINUTES.*a day/,
  );
});

test('http to this machine is allowed (local fakes and tests)', () => {
  expect(readPollerEnv({ ...base, API_BASE_URL: 'http://127.0.0.1:4010/v1' }).apiBaseUrl).toBe(
    'http://127.0.0.1:4010/v1',
  );
});

test("the jobs a listing may keep follow the function's memory, which Lambda names", () => {
  expect(readPollerEnv(base).memoryMb).toBe(256);
  expect(readPollerEnv({ ...base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' }).memoryMb).toBe(1024);
  // 100,000 fine-tunes measured at ~100 MiB of growth (docs/BENCHMARKS.md): the default memory holds them.
  expect(listedJobsFor(256)).toBe(102_400);
  expect(listedJobsFor(512)).toBe(307_200);
  expect(listedJobsFor(128)).toBe(1_000);
});
