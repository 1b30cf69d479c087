import { App, aws_iam as iam, aws_secretsmanager as secretsmanager, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ModelAlias, TogetherModelAliases, TogetherWebhooks } from '../../lib';
import { NEW_MODEL as NEW, OLD_MODEL as OLD } from '../support/recipe-events';
import {
  CLAIM_ITEM_ACTIONS,
  DEAD_LETTER_ACTIONS,
  expectPollerFollowsEndpoints,
  expectRoutedTo,
  roleStatementsOf,
  routedTypes,
  sortedActions,
} from '../support/recipes';

/** Issue 12, recipe 2, the construct: one SSM parameter per alias, a handler that may touch only those. */

describe('the construct', () => {
  function synth(aliases: ModelAlias[], extra: { poller?: boolean; switchOnDeprecation?: boolean } = {}) {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Aliases', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'together/api-key');
    const webhooks = new TogetherWebhooks(
      stack,
      'Hooks',
      extra.poller === false ? {} : { poller: { apiKey } },
    );
    const recipe = new TogetherModelAliases(stack, 'Models', {
      webhooks,
      aliases,
      switchOnDeprecation: extra.switchOnDeprecation,
    });
    return { recipe, t: Template.fromStack(stack) };
  }

  test('one parameter per alias with its first model; the handler may touch only those parameters', () => {
    const { t } = synth([
      { name: 'chat', model: OLD },
      { name: 'support-bot', model: 'acme/support-v6', followDeploymentsOf: 'acme/support-' },
    ]);
    t.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/together/models/chat',
      Value: OLD,
      Type: 'String',
    });
    t.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/together/models/support-bot',
      Value: 'acme/support-v6',
    });
    const role = roleStatementsOf(t, 'ModelsFunction');
    expect(role.actions).toEqual(
      sortedActions(
        CLAIM_ITEM_ACTIONS,
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'sns:Publish',
        DEAD_LETTER_ACTIONS,
        'ssm:GetParameters',
        'ssm:PutParameter',
      ),
    );
    const ssmResources = role.resourcesFor('ssm:').join();
    // Each alias parameter's own ARN (parameter/<name>), named through its Ref.
    expect(ssmResources).toContain(':ssm:us-east-1:111111111111:parameter",{"Ref":"ModelsAliaschat');
    expect(ssmResources).toContain('{"Ref":"ModelsAliassupportbot');
    expect(ssmResources).not.toContain('*');
    // Following a deployment: endpoint.ready routed to it, and the poller follows endpoints.
    expectRoutedTo(t, 'endpoint.ready', 'ModelsFunction');
    expectRoutedTo(t, 'model.deprecated', 'ModelsFunction');
    expectPollerFollowsEndpoints(t);
  });

  test('no alias follows deployments: only model.deprecated is routed to it', () => {
    const { t } = synth([{ name: 'chat', model: OLD }], { poller: false });
    expect(routedTypes(t, 'ModelsFunction')).toEqual([['model.deprecated']]);
  });

  test('grantRead gives an inference role read access to the aliases only', () => {
    const app = new App();
    const stack = new Stack(app, 'Read');
    const recipe = new TogetherModelAliases(stack, 'Models', {
      webhooks: new TogetherWebhooks(stack, 'Hooks'),
      aliases: [{ name: 'chat', model: OLD }],
    });
    const role = new iam.Role(stack, 'Inference', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    });
    recipe.grantRead(role);
    expect(recipe.parameter('chat').parameterName).toBeDefined();
    const policy = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(policy).toContain('ssm:GetParameter');
    expect(() => recipe.parameter('nope')).toThrow('TogetherModelAliases: no alias "nope"; aliases: chat');
  });

  test("the handler's claims last the receiver's dedupeRetention (RETENTION_DAYS)", () => {
    // Review D8.
    const stack = new Stack(new App(), 'S');
    new TogetherModelAliases(stack, 'Models', {
      webhooks: new TogetherWebhooks(stack, 'Hooks', { dedupeRetention: Duration.days(30) }),
      aliases: [{ name: 'chat', model: NEW }],
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Keeps Together model aliases in SSM on a model that serves',
      Environment: { Variables: Match.objectLike({ RETENTION_DAYS: '30' }) },
    });
  });

  test('alias names that would share a construct id are refused, naming both', () => {
    // Review D5. Construct ids drop everything but letters and digits; ids of names that don't collide stay.
    expect(() =>
      synth([
        { name: 'a-b', model: OLD },
        { name: 'ab', model: NEW },
      ]),
    ).toThrow(
      'TogetherModelAliases: aliases "a-b" and "ab" would share the construct id "Aliasab"; rename one of them',
    );
    expect(() =>
      synth([
        { name: 'a.b', model: OLD },
        { name: 'chat', model: OLD },
        { name: 'a_b', model: NEW },
      ]),
    ).toThrow('aliases "a.b" and "a_b" would share the construct id "Aliasab"');
    const { t } = synth([
      { name: 'a-b', model: OLD },
      { name: 'A-b', model: OLD },
    ]);
    expect(
      Object.keys(t.findResources('AWS::SSM::Parameter')).map((id) => id.replace(/[0-9A-F]{8}$/, '')),
    ).toEqual(['ModelsAliasab', 'ModelsAliasAb']);
  });

  test('parameter names SSM would refuse are refused at synth, showing the value', () => {
    // Review D6.
    const make = (parameterPrefix: string, name = 'chat', env = true) => {
      const app = new App({ builtinCloudFormationValidation: false });
      const stack = new Stack(
        app,
        'P',
        env ? { env: { account: '111111111111', region: 'us-east-1' } } : undefined,
      );
      return new TogetherModelAliases(stack, 'Models', {
        webhooks: new TogetherWebhooks(stack, 'Hooks'),
        parameterPrefix,
        aliases: [{ name, model: NEW }],
      });
    };
    const levels = (n: number) => '/' + Array.from({ length: n }, (_, i) => `l${i}`).join('/') + '/';
    expect(() => make(levels(14))).not.toThrow(); // 15 levels with the alias
    expect(() => make(levels(15))).toThrow(
      `TogetherModelAliases: parameter "${levels(15)}chat" has 16 levels; SSM allows at most 15 (parameterPrefix and alias name together)`,
    );
    // 1011 characters with the ARN before the name: arn:aws:ssm:us-east-1:111111111111:parameter (44 here).
    const long = (k: number) => '/' + 'x'.repeat(k) + '/';
    expect(() => make(long(961))).not.toThrow(); // 967-character name, 1011 with the ARN
    expect(() => make(long(962))).toThrow(
      /TogetherModelAliases: parameter "\/x{59}\.\.\." is 968 characters, 1012 in its ARN; SSM allows 1011 with the ARN/,
    );
    // Unknown region: room is left for the longest partition and region.
    expect(() => make(long(961), 'chat', false)).toThrow(/is 967 characters, up to 1024 in its ARN/);
    expect(() => make('/Together/AWS/')).not.toThrow();
    expect(() => make('/aws/models/')).toThrow(
      'TogetherModelAliases: parameter "/aws/models/chat" begins with "aws"; SSM reserves names beginning with "aws" or "ssm"',
    );
    expect(() => make('/', 'SSM-chat')).toThrow('parameter "/SSM-chat" begins with "SSM"');
    expect(() => make('together/models/')).toThrow(
      'parameterPrefix must start and end with "/" (e.g. /together/models/), got "together/models/"',
    );
    expect(() => make('/together models/')).toThrow('got "/together models/"');
  });

  test('props are checked early, with the value received', () => {
    expect(() => synth([])).toThrow('TogetherModelAliases: aliases must name at least one alias, got none');
    expect(() => synth([{ name: 'has space', model: OLD }])).toThrow('got "has space"');
    expect(() =>
      synth([
        { name: 'a', model: OLD },
        { name: 'a', model: NEW },
      ]),
    ).toThrow('alias "a" is given twice');
    expect(() => synth([{ name: 'a', model: OLD, followDeploymentsOf: 'acme/' }], { poller: false })).toThrow(
      "followDeploymentsOf needs TogetherWebhooks' poller",
    );
  });
});
