import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { readAliasEvent } from '../../../lambda/model-aliases/core';
import { LocalDynamo, startDynalite } from '../../support/dynalite';
import { deprecated, NEW_MODEL as NEW, OLD_MODEL as OLD } from '../../support/recipe-events';

/** Issue 12, recipe 2, the adapter: the core wired to SSM, SNS and the claims as Lambda runs it. */

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
