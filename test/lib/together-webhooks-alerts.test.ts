import { Capture, Match } from 'aws-cdk-lib/assertions';
import { stackWith, template } from '../support/webhooks-stack';

// What reaches the alert topic (lib/alerts.ts): the topic, the alert rules, the alarms.

describe('defaults', () => {
  const t = template();

  test('failures and deprecations reach an encrypted alert topic as readable text', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    for (const type of ['fine_tune.failed', 'model.deprecated']) {
      const template = new Capture();
      t.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['together.ai'], 'detail-type': [type] },
        Targets: [
          Match.objectLike({
            Arn: { Ref: Match.stringLikeRegexp('AlertTopic') },
            InputTransformer: {
              InputTemplate: template,
              InputPathsMap: Match.objectLike({ 'detail-id': '$.detail.id' }),
            },
            DeadLetterConfig: { Arn: Match.anyValue() },
          }),
        ],
      });
      expect(template.asString()).toContain('What to do:');
      expect(template.asString()).toContain(`event: ${type}`);
    }
    const failed = new Capture();
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['fine_tune.failed'] },
      Targets: [
        Match.objectLike({ InputTransformer: { InputTemplate: failed, InputPathsMap: Match.anyValue() } }),
      ],
    });
    expect(failed.asString()).toContain('error_message: <detail-data-error_message>');
    expect(failed.asString()).toContain('fine_tune_id: <detail-data-fine_tune_id>');
  });

  test('an EXPIRED batch alerts (suggesting to split it); other batch outcomes do not', () => {
    const advice = new Capture();
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['together.ai'],
        'detail-type': ['batch.done'],
        detail: { data: { status: ['EXPIRED'] } },
      },
      Targets: [
        Match.objectLike({ InputTransformer: { InputTemplate: advice, InputPathsMap: Match.anyValue() } }),
      ],
    });
    expect(advice.asString()).toContain('split it into smaller batches');
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['fine_tune.stalled'] },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('AlertTopic') } })],
    });
  });

  test.each(['fine_tune.failed', 'fine_tune.stalled'])(
    '%s: the advice names check-data, and every <placeholder> in the text is one EventBridge fills in',
    (type) => {
      const text = new Capture();
      const paths = new Capture();
      t.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { 'detail-type': [type] },
        Targets: [Match.objectLike({ InputTransformer: { InputTemplate: text, InputPathsMap: paths } })],
      });
      expect(text.asString()).toContain('npx together-webhooks check-data FILE');
      // A <word> EventBridge has no path for is not text: the rule is refused, or the word dropped.
      const placeholders = [...text.asString().matchAll(/<([^<>]+)>/g)].map((m) => m[1]);
      expect(placeholders.filter((p) => !(p in paths.asObject()) && p !== 'aws.events.event')).toEqual([]);
    },
  );

  test('alert rules stand apart from routing rules (ids Alert<Type>)', () => {
    const { hooks } = stackWith();
    const ids = hooks.node.children
      .map((c) => c.node.id)
      .filter(
        (id) => id.startsWith('Alert') && !['AlertTopic', 'AlertKey', 'AlertPublisherRole'].includes(id),
      );
    expect(ids.sort()).toEqual([
      'AlertBatchDone',
      'AlertClusterDegraded',
      'AlertDeploymentFailed',
      'AlertEndpointFailed',
      'AlertEvaluationFailed',
      'AlertFineTuneFailed',
      'AlertFineTuneStalled',
      'AlertJobFailed',
      'AlertModelDeprecated',
      'AlertQueueJobFailed',
      'AlertRlSessionFailed',
      'AlertVideoFailed',
    ]);
  });

  test('only our alarms and our rules may publish to the encrypted topic: no service principal without a condition', () => {
    // CloudWatch: on the key and the topic, only for alarms of this account (aws:SourceAccount, aws:SourceArn).
    const alarmsOnly = {
      StringEquals: { 'aws:SourceAccount': '111111111111' },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:us-east-1:111111111111:alarm:*']],
        },
      },
    };
    const keyStatements = Object.values(t.findResources('AWS::KMS::Key'))[0].Properties.KeyPolicy.Statement;
    const topicStatements = Object.values(t.findResources('AWS::SNS::TopicPolicy'))[0].Properties
      .PolicyDocument.Statement;
    for (const statements of [keyStatements, topicStatements]) {
      const services = statements.filter(
        (st: { Principal?: { Service?: unknown } }) => st.Principal?.Service,
      );
      expect(services).toEqual([
        expect.objectContaining({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Condition: alarmsOnly,
        }),
      ]);
    }
    // EventBridge publishes alerts with one role, trusted for this account only (its KMS calls carry no source
    // keys to pin on the key), allowed this topic and this key and nothing else.
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['fine_tune.failed'] },
      Targets: [
        Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('AlertTopic') }, RoleArn: Match.anyValue() }),
      ],
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': '111111111111' } },
          }),
        ],
      },
    });
    const publisher = Object.values(t.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes('AlertPublisherRole'),
    )!;
    expect(publisher.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: 'sns:Publish',
        Resource: { Ref: expect.stringMatching(/AlertTopic/) },
      }),
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/AlertKey/), 'Arn'] },
      }),
    ]);
  });

  test('alarms on verifier errors, 5xx answers, dead letters and rejected signatures notify the topic', () => {
    t.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    const alarmed = (metricName: string, extra: object = {}) =>
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertTopic') }],
        TreatMissingData: 'notBreaching',
        ...extra,
      });
    alarmed('Errors', { Namespace: 'AWS/Lambda' });
    alarmed('5xx', { Namespace: 'AWS/ApiGateway' });
    alarmed('ApproximateNumberOfMessagesVisible', { Namespace: 'AWS/SQS' });
    alarmed('Rejected', { Namespace: 'TogetherWebhooks', Threshold: 10 });
  });
});

describe('bring your own', () => {
  test('alerts: false creates no topic, no alarms and no alert rules', () => {
    const t = template({ alerts: false });
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    t.resourceCountIs('AWS::Events::Rule', 0);
  });
});
