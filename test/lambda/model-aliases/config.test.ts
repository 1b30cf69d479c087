import { readModelAliasesConfig } from '../../../lambda/model-aliases/config';

/** What the model-aliases handler reads from the environment its construct writes (lib/model-aliases.ts). */

const ALIASES = [
  { alias: 'chat', parameter: '/together/models/chat' },
  { alias: 'support-bot', parameter: '/together/models/support-bot', follow: 'acme/support-' },
];
const ENV = {
  ALIASES: JSON.stringify(ALIASES),
  SWITCH_ON_DEPRECATION: 'true',
  TABLE_NAME: 'dedupe',
  CLAIM_SCOPE: 'c8a1b2',
  RETENTION_DAYS: '30',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111111111111:alerts',
};

test('the settings the construct writes arrive as values', () => {
  expect(readModelAliasesConfig(ENV)).toEqual({
    tableName: 'dedupe',
    scope: 'c8a1b2',
    retentionSeconds: 30 * 86400,
    aliases: ALIASES,
    switchOnDeprecation: true,
    alertTopicArn: 'arn:aws:sns:us-east-1:111111111111:alerts',
  });
});

test('defaults: a week of retention, switching off, no alert topic', () => {
  const bare = readModelAliasesConfig({
    ...ENV,
    RETENTION_DAYS: '',
    SWITCH_ON_DEPRECATION: undefined,
    ALERT_TOPIC_ARN: '',
  });
  expect(bare).toMatchObject({ retentionSeconds: 7 * 86400, switchOnDeprecation: false });
  expect(bare.alertTopicArn).toBeUndefined();
  expect(readModelAliasesConfig({ ...ENV, SWITCH_ON_DEPRECATION: 'false' }).switchOnDeprecation).toBe(false);
});

test('malformed settings are refused, naming the variable', () => {
  expect(() => readModelAliasesConfig({ ...ENV, ALIASES: undefined })).toThrow(
    'environment variable ALIASES is required',
  );
  expect(() => readModelAliasesConfig({ ...ENV, ALIASES: '[{' })).toThrow('ALIASES must be JSON, got "[{"');
  for (const wrong of [
    { alias: 'chat' },
    [{ alias: 'chat' }],
    [{ alias: '', parameter: '/p' }],
    [{ alias: 'a', parameter: '/p', follow: 1 }],
  ])
    expect(() => readModelAliasesConfig({ ...ENV, ALIASES: JSON.stringify(wrong) })).toThrow(
      'ALIASES has the wrong shape',
    );
  expect(() => readModelAliasesConfig({ ...ENV, RETENTION_DAYS: '-1' })).toThrow(
    'RETENTION_DAYS must be a positive number of days, got "-1"',
  );
  expect(() => readModelAliasesConfig({ ...ENV, SWITCH_ON_DEPRECATION: 'yes' })).toThrow(
    'SWITCH_ON_DEPRECATION must be "true" or "false", got "yes"',
  );
  expect(() => readModelAliasesConfig({ ...ENV, TABLE_NAME: '' })).toThrow(
    'environment variable TABLE_NAME is required',
  );
});
