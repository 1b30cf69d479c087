import { CloudFormationClient, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { parseArgs, UsageError } from '../../bin/cli/args';
import { ALARM_IDS, findResources, need } from '../../bin/cli/stack';
import { deployedStack, STACK, stubCloudFormation } from '../support/aws-stack';

/** Finding a deployed TogetherWebhooks' resources from its stack: the real construct's template, nested one level. */

const SPEC = {
  values: ['stack', 'scope', 'table', 'poller-scope', 'bus', 'archive', 'dlq-url', 'log-group'],
};
const cfnClient = () => new CloudFormationClient({ region: 'us-east-1' });
const find = (...argv: string[]) => findResources(parseArgs(argv, SPEC), cfnClient());

describe('findResources', () => {
  const d = deployedStack();
  let cfn: ReturnType<typeof stubCloudFormation>;
  beforeEach(() => (cfn = stubCloudFormation()));
  afterEach(() => cfn.restore());

  test('--stack: every resource the commands read, from the template and both pages of resources', async () => {
    const res = await find('--stack', STACK);
    expect(res).toEqual({
      stack: STACK,
      tableName: d.physical('PlatformHooksDedupeTable'),
      claimScope: d.claimScope,
      retentionDays: 7,
      busName: d.physical('PlatformHooksBus'),
      pollerScope: d.stateScope,
      pollerLogGroup: d.physical('PlatformHooksPollerLogs'),
      archiveName: d.physical('PlatformHooksArchive'),
      dlqUrl: d.physical('PlatformHooksDeadLetterQueue'),
      alarmNames: expect.any(Array),
    });
    expect(res.dlqUrl).toMatch(/^https:\/\/sqs\.us-east-1\.amazonaws\.com\//);
    // Every alarm the construct made, and nothing else (the construct's alarm ids are all known here).
    const alarms = d.resources.filter((r) => r.ResourceType === 'AWS::CloudWatch::Alarm');
    expect([...res.alarmNames!].sort()).toEqual(alarms.map((a) => a.PhysicalResourceId).sort());
    expect(alarms.length).toBe(ALARM_IDS.length);
    expect(d.claimScope).not.toBe(d.stateScope);
  });

  test('explicit flags override what the stack says', async () => {
    const res = await find(
      '--stack',
      STACK,
      '--table',
      'mine',
      '--bus',
      'other-bus',
      '--dlq-url',
      'https://q',
    );
    expect(res).toMatchObject({
      tableName: 'mine',
      busName: 'other-bus',
      dlqUrl: 'https://q',
      claimScope: d.claimScope,
    });
  });

  test('without --stack, only the flags: nothing is asked of CloudFormation', async () => {
    expect(await find('--table', 't', '--scope', 's')).toEqual({ tableName: 't', claimScope: 's' });
    expect(cfn.calls()).toHaveLength(0);
  });

  test('a stack with two TogetherWebhooks: --scope picks one, without it a usage error lists both', async () => {
    const two = JSON.parse(JSON.stringify(d.template)) as { Resources: Record<string, unknown> };
    const verifier = Object.keys(two.Resources).find((id) => /^PlatformHooksVerifier[0-9A-F]{8}$/.test(id))!;
    const copy = JSON.parse(JSON.stringify(two.Resources[verifier])) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    copy.Properties.Environment.Variables.CLAIM_SCOPE = 'c8second';
    copy.Properties.Environment.Variables.TABLE_NAME = 'second-table';
    two.Resources['SecondVerifier0A1B2C3D'] = copy;
    cfn.on(GetTemplateCommand, { StackName: STACK }).resolves({ TemplateBody: JSON.stringify(two) });
    await expect(find('--stack', STACK)).rejects.toThrow(
      new UsageError(
        `stack ${STACK} has 2 TogetherWebhooks: pick one with --scope: ${d.claimScope} (${verifier}), ` +
          'c8second (SecondVerifier0A1B2C3D)',
      ),
    );
    expect(await find('--stack', STACK, '--scope', 'c8second')).toMatchObject({
      tableName: 'second-table',
      claimScope: 'c8second',
      pollerScope: undefined,
      archiveName: undefined,
    });
    await expect(find('--stack', STACK, '--scope', 'c8third')).rejects.toThrow(
      /no TogetherWebhooks with claim scope c8third/,
    );
  });

  test('a stack without the construct, a stack that does not exist: one line each', async () => {
    cfn.on(GetTemplateCommand, { StackName: STACK }).resolves({ TemplateBody: '{"Resources":{}}' });
    await expect(find('--stack', STACK)).rejects.toThrow(
      `stack ${STACK} has no TogetherWebhooks (no verifier function): give --table, --bus, ...`,
    );
    await expect(find('--stack', 'Other')).rejects.toThrow(
      'stack Other: ValidationError: Stack with id Other does not exist',
    );
  });
});

test.each([['--scope'], ['--poller-scope']])('%s that cannot be a key part: a usage error', async (name) => {
  await expect(find('--table', 't', name, 'o#x')).rejects.toThrow(
    new UsageError(`${name} must be 1-100 letters, digits, '_', '.' or '-' (c8...), got "o#x"`),
  );
});

describe('need', () => {
  test('missing without --stack: a usage error naming the flag; with --stack, a failure naming both', () => {
    expect(() => need({}, 'archiveName', 'archive')).toThrow(
      new UsageError('needs --stack NAME or --archive (the archive)'),
    );
    expect(() => need({ stack: 'S' }, 'archiveName', 'archive')).toThrow(
      'stack S has no archive: give --archive',
    );
    expect(need({ archiveName: 'a' }, 'archiveName', 'archive')).toBe('a');
  });
});
