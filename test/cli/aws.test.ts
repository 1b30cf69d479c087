import { awsError, CLI_AWS_LIMITS, realAws } from '../../bin/cli/aws';

/** The operating commands' clients: explicit limits on every one, and --region / --profile passed through. */

describe('realAws', () => {
  test('every client has the CLI limits, the region and the profile asked', async () => {
    const clients = realAws({ region: 'eu-west-1', profile: 'ops' });
    for (const client of Object.values(clients)) {
      expect(await client.config.region()).toBe('eu-west-1');
      expect(await client.config.maxAttempts()).toBe(CLI_AWS_LIMITS.maxAttempts);
      expect((client.config as { profile?: string }).profile).toBe('ops');
      const handler = client.config.requestHandler as unknown as {
        configProvider: Promise<Record<string, unknown>>;
      };
      expect(await handler.configProvider).toMatchObject({
        connectionTimeout: CLI_AWS_LIMITS.connectionTimeoutMs,
        requestTimeout: CLI_AWS_LIMITS.requestTimeoutMs,
      });
    }
    expect(Object.keys(clients)).toHaveLength(6);
  });
});

describe('awsError', () => {
  test.each([
    [
      Object.assign(new Error('Stack with id X does not exist'), { name: 'ValidationError' }),
      'ValidationError: Stack with id X does not exist',
    ],
    [new Error('first line\nsecond'), 'Error: first line'],
    [Object.assign(new Error('AccessDenied: no'), { name: 'AccessDenied' }), 'AccessDenied: no'],
    ['a string', 'Error: a string'],
  ])('%p -> %s', (err, line) => {
    expect(awsError(err)).toBe(line);
  });
});
