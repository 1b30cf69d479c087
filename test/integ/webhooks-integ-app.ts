import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import {
  App,
  aws_events_targets as targets,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  aws_sqs as sqs,
  Duration,
  RemovalPolicies,
  RemovalPolicy,
  Stack,
} from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_SOURCE, sampleEvent } from '../../lib/events';
import { TogetherWebhooks } from '../../lib';

// The integration test for a real account (test/integ/integ.webhooks.ts runs it; test/integ/snapshot.test.ts
// checks its committed snapshot offline). It deploys the construct with a poller and a queue subscribed with
// onEvent, then asserts on the deployed stack: (a) a signed fine_tune.completed webhook posted to the URL is
// published and reaches the queue; (b) a poller run completes against Together with the account's API key.

/** The secret that holds the Together API key, unless `TOGETHER_API_KEY_SECRET` or `-c apiKeySecretName` say. */
export const DEFAULT_API_KEY_SECRET = 'together/api-key';

/**
 * The app the test lives in, synthesized the same whoever runs it (the cdk CLI, integ-runner, the snapshot check
 * in jest): the example app's feature flags (cdk.json), path metadata on, no stack traces (they hold absolute
 * paths), set after whatever context the runner passes. `validate: false` skips the built-in template checker
 * (~18 s here), which reports problems but changes nothing in the output.
 */
export function integApp(options: { outdir?: string; validate?: boolean } = {}): App {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return new App({
    outdir: options.outdir,
    stackTraces: false,
    analyticsReporting: false,
    performanceReporting: false,
    builtinCloudFormationValidation: options.validate ?? true,
    postCliContext: {
      ...cdkJson.context,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:disable-creation-stack-traces': true,
    },
  });
}

/** The event type the test sends and subscribes the queue to. */
const TYPE = 'fine_tune.completed';

export interface WebhooksIntegOptions {
  /** Name of the Secrets Manager secret holding the Together API key (the poller reads it). */
  readonly apiKeySecretName: string;
}

export interface WebhooksInteg {
  readonly stack: Stack;
  readonly hooks: TogetherWebhooks;
  readonly queue: sqs.Queue;
  readonly integ: IntegTest;
}

/**
 * The sender: reads the stack's signing secret, signs a sample event (its ids made unique per call) the way
 * Together does (x-together-signature, hex HMAC-SHA256 of the raw body) and posts it. Never throws: `verdict` is
 * `published` or says what happened, so a failed assertion shows it.
 */
export const SENDER_CODE = `
const { createHmac } = require('node:crypto');
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const sm = new SecretsManagerClient({});
exports.handler = async (_event, context) => {
  const sample = JSON.parse(process.env.SAMPLE_EVENT);
  const fineTuneId = 'ft-integ-' + context.awsRequestId;
  const body = JSON.stringify({ ...sample, id: 'integ-' + context.awsRequestId,
    created_at: new Date().toISOString(), data: { ...sample.data, fine_tune_id: fineTuneId } });
  try {
    const secret = await sm.send(new GetSecretValueCommand({ SecretId: process.env.SECRET_ARN }));
    const signature = createHmac('sha256', Buffer.from(secret.SecretString, 'utf8')).update(body).digest('hex');
    const res = await fetch(process.env.WEBHOOK_URL, { method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-together-signature': signature },
      signal: AbortSignal.timeout(10000) });
    const text = await res.text();
    let reply;
    try { reply = JSON.parse(text); } catch { reply = undefined; }
    const published = res.status === 200 && reply && reply.received === true && !reply.duplicate;
    return { verdict: published ? 'published' : 'HTTP ' + res.status + ': ' + text.slice(0, 300), fineTuneId };
  } catch (err) {
    return { verdict: 'error: ' + (err && err.message), fineTuneId };
  }
};
`;

/** The stack under test: the construct as a team would deploy it, everything removed on destroy. */
function webhooksStack(app: App, options: WebhooksIntegOptions) {
  const stack = new Stack(app, 'TogetherWebhooksInteg');
  const apiKey = secretsmanager.Secret.fromSecretNameV2(stack, 'TogetherApiKey', options.apiKeySecretName);
  const hooks = new TogetherWebhooks(stack, 'Hooks', {
    poller: { apiKey },
    // The default keeps the dedupe table after destroy.
    removalPolicy: RemovalPolicy.DESTROY,
    logRetention: logs.RetentionDays.ONE_DAY,
  });
  const queue = new sqs.Queue(stack, 'FineTuneCompleted', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    retentionPeriod: Duration.hours(1),
  });
  hooks.onEvent(TYPE, new targets.SqsQueue(queue));

  const sender = new lambda.Function(stack, 'SignedWebhookSender', {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: lambda.Code.fromInline(SENDER_CODE),
    timeout: Duration.seconds(30),
    environment: {
      WEBHOOK_URL: hooks.webhookUrl,
      SECRET_ARN: hooks.secret.secretArn,
      SAMPLE_EVENT: JSON.stringify(sampleEvent(TYPE)),
    },
    logGroup: new logs.LogGroup(stack, 'SignedWebhookSenderLogs', {
      retention: logs.RetentionDays.ONE_DAY,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
  });
  hooks.secret.grantRead(sender);
  // A test run leaves nothing behind: the construct retains the alert topic's KMS key (and, by default, the table).
  RemovalPolicies.of(stack).destroy();
  return { stack, hooks, queue, sender };
}

/** The integration test: the stack above and its assertions, in `app`. */
export function webhooksInteg(app: App, options: WebhooksIntegOptions): WebhooksInteg {
  const { stack, hooks, queue, sender } = webhooksStack(app, options);
  const integ = new IntegTest(app, 'TogetherWebhooksIntegTest', {
    testCases: [stack],
    // The committed snapshot carries no asset files (test/integ/.gitignore): nothing to deploy "before".
    stackUpdateWorkflow: false,
  });
  const wait = { totalTimeout: Duration.minutes(3), interval: Duration.seconds(10) };

  // (a) A signed webhook is accepted (verifier: 200, published, not a duplicate) ...
  const send = integ.assertions.invokeFunction({ functionName: sender.functionName });
  // (Not ExpectedResult.exact: its `$Exact` is not decoded by integ-tests-alpha 2.245's handler, so it never matches.)
  send
    .assertAtPath('Payload.verdict', ExpectedResult.stringLikeRegexp('^published$'))
    .waitForAssertions(wait);
  // ... and that very event (its fine-tune id) reaches the queue subscribed with onEvent.
  const received = integ.assertions
    .awsApiCall('SQS', 'receiveMessage', {
      QueueUrl: queue.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 10,
    })
    .expect(
      ExpectedResult.objectLike({
        Messages: Match.arrayWith([
          Match.objectLike({
            Body: Match.serializedJson(
              Match.objectLike({
                source: EVENT_SOURCE,
                'detail-type': TYPE,
                detail: { type: TYPE, data: { fine_tune_id: send.getAttString('Payload.fineTuneId') } },
              }),
            ),
          }),
        ]),
      }),
    )
    .waitForAssertions(wait);
  send.next(received);

  // (b) A poller run completes against Together with the account's key (a scheduled poll holding the lease or
  // the function's one concurrent run makes an attempt skip or throttle: the waiter tries again).
  integ.assertions
    .invokeFunction({ functionName: hooks.poller!.function.functionName })
    .expect(
      ExpectedResult.objectLike({
        Payload: Match.serializedJson(Match.objectLike({ outcome: 'completed' })),
      }),
    )
    .waitForAssertions(wait);

  return { stack, hooks, queue, integ };
}
