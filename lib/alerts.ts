import {
  aws_apigatewayv2 as apigwv2,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_sns as sns,
  aws_sqs as sqs,
  ArnFormat,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EVENT_TYPES, eventSpec } from './events';
import { alertPattern, pascal } from './patterns';
import type { TogetherJobPoller } from './poller';
import { alertMessage, cdkPattern, DeadLetteredTarget, RolePublishedTopic } from './targets';

// What reaches the alert topic of `TogetherWebhooks` (lib/together-webhooks.ts): the topic, the alert rules and the
// alarms. Each is created in the construct itself (`scope`): their ids are public API, kept as first released.

/** The alert topic, under a key of ours: EventBridge and CloudWatch cannot publish under the AWS-managed SNS key. */
export function createAlertTopic(scope: Construct): sns.Topic {
  const key = new kms.Key(scope, 'AlertKey', {
    description: 'Encrypts the Together webhooks alert topic',
    enableKeyRotation: true,
  });
  const topic = new sns.Topic(scope, 'AlertTopic', {
    displayName: 'Together AI alerts',
    masterKey: key,
    enforceSSL: true,
  });
  // CloudWatch, for alarms of this account only (its requests carry these keys, so they can be pinned). EventBridge
  // gets no service principal here at all: its alert rules publish with a role (its KMS calls carry no such keys).
  const stack = Stack.of(scope);
  const alarmsOfThisAccount = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: {
      'aws:SourceArn': stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: '*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    },
  };
  const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [cloudwatch],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: alarmsOfThisAccount,
    }),
  );
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [cloudwatch],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: alarmsOfThisAccount,
    }),
  );
  return topic;
}

/** Where alert rules run, and where what they cannot deliver goes. */
export interface AlertRouting {
  readonly eventBus: events.IEventBus;
  readonly deadLetterQueue: sqs.IQueue;
  readonly retryAttempts: number;
}

/** One rule per alerting type, apart from the user's routes, so turning alerts off leaves those untouched. */
export function routeAlerts(scope: Construct, topic: sns.ITopic, routing: AlertRouting): void {
  // One role for every alert rule: publish to this topic and use its key, nothing else, assumable by EventBridge
  // for this account only.
  const publisher = new iam.Role(scope, 'AlertPublisherRole', {
    description: 'EventBridge publishes Together AI alerts to the alert topic',
    assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
  });
  publisher.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }),
  );
  topic.masterKey?.grant(publisher, 'kms:Decrypt', 'kms:GenerateDataKey');
  for (const type of EVENT_TYPES) {
    const alert = eventSpec(type).alert;
    if (!alert) continue;
    const rule = new events.Rule(scope, `Alert${pascal(type)}`, {
      eventBus: routing.eventBus,
      description: `Together AI ${type} events to the alert topic`,
      eventPattern: cdkPattern(alertPattern(type)!),
    });
    rule.addTarget(
      new DeadLetteredTarget(
        new RolePublishedTopic(topic, publisher, alertMessage(type, alert.advice)),
        routing.deadLetterQueue,
        routing.retryAttempts,
      ),
    );
  }
}

/** One alarm: at or above `threshold` on `evaluationPeriods` periods in a row; no data is no alarm. */
interface AlarmSpec {
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly description: string;
  /** @default 1 */
  readonly evaluationPeriods?: number;
}

/** What the receiver's alarms watch. */
export interface WebhookAlarmSources {
  readonly verifier: lambda.IFunction;
  readonly httpApi: apigwv2.HttpApi;
  readonly deadLetterQueue: sqs.IQueue;
  /** Requests refused for their signature, and how many in 5 minutes raise the alarm. */
  readonly rejected: cloudwatch.IMetric;
  readonly rejectedThreshold: number;
}

/** The receiver's alarms: verifier errors, 5xx answers, dead letters, rejected signatures. */
export function webhookAlarms(
  scope: Construct,
  topic: sns.ITopic,
  on: WebhookAlarmSources,
): cloudwatch.Alarm[] {
  const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };
  return alarmsOn(scope, topic, [
    {
      id: 'VerifierErrorsAlarm',
      metric: on.verifier.metricErrors(fiveMinutes),
      threshold: 1,
      description: 'The Together webhook verifier threw: events may be retried by Together. Check its logs.',
    },
    {
      id: 'ServerErrorsAlarm',
      metric: on.httpApi.metricServerError(fiveMinutes),
      threshold: 1,
      description:
        'The Together webhook endpoint answered 5xx: DynamoDB, EventBridge or Secrets Manager failed. Together retries.',
    },
    {
      id: 'DeadLetterAlarm',
      metric: on.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Max',
      }),
      threshold: 1,
      description: 'Together events could not be delivered to a target: they wait in the dead-letter queue.',
    },
    {
      id: 'RejectedSignaturesAlarm',
      metric: on.rejected,
      threshold: on.rejectedThreshold,
      description:
        'Many Together webhooks failed signature checks: a rotated secret not yet shared, or forged requests.',
    },
  ]);
}

/** Polls in a row that held outcomes back before an alarm says so. */
const POLLS_HELD_BACK = 5;

/**
 * The poller's alarms: it crashed, or held outcomes back for a few polls in a row, one alarm per cause so its
 * message can name it. An alarm may look back one day at most: a long interval gets fewer polls.
 */
export function pollerAlarms(
  scope: Construct,
  topic: sns.ITopic,
  poller: TogetherJobPoller,
): cloudwatch.Alarm[] {
  const polls = Math.max(1, Math.min(POLLS_HELD_BACK, Math.floor(1440 / poller.interval.toMinutes())));
  const inARow = polls === 1 ? 'on a poll' : `on ${polls} polls in a row`;
  return alarmsOn(scope, topic, [
    {
      id: 'PollerErrorsAlarm',
      metric: poller.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
      threshold: 1,
      description:
        'The Together job poller crashed: check its logs. Outcomes are picked up by the next poll that works.',
    },
    {
      id: 'PollerStoppingAlarm',
      metric: poller.metricPollErrors({ statistic: 'Maximum', period: poller.interval }),
      threshold: 1,
      description:
        `The Together poller hit failures ${inARow}: a source (fine-tunes, batches, models) or a job kept failing, Together ` +
        'rejected the API key or was down, or our bus or table failed. The outcomes it concerns are held back ' +
        "and published once it works; the poller's `poll` log lines name what failed (`failures`, `reason`).",
      evaluationPeriods: polls,
    },
    {
      id: 'PollerOutOfTimeAlarm',
      metric: poller.metricOutOfTime(),
      threshold: 1,
      description:
        `The Together poller ran out of time ${inARow}: too many jobs to follow, or Together answering slowly. ` +
        'Terminal states are still published first; checkpoints and stall checks of some running jobs are late. ' +
        "Poll less often (more time per poll) or check Together's latency.",
      evaluationPeriods: polls,
    },
    {
      id: 'PollerSkippedAlarm',
      metric: poller.metricPollSkipped(),
      threshold: 1,
      description:
        `The Together poller skipped its poll ${inARow}: another poll held the lease. A poll holds it at most until ` +
        "its function's end plus 30 s, so this means polls overlap or the lease item is stuck: check the poller's " +
        'logs, and the item `poller#<scope>#lease` in the dedupe table. Nothing is polled meanwhile.',
      evaluationPeriods: polls,
    },
    {
      id: 'PollerListingIncompleteAlarm',
      metric: poller.metricListingIncomplete({ statistic: 'Maximum', period: poller.interval }),
      threshold: 1,
      description:
        'A Together listing showed fewer jobs than there are (evaluations: more than 100 of one status created ' +
        "since the last listing): outcomes of jobs no listing showed can be missing. The poll log's `incomplete` " +
        "names the source and statuses; check those jobs in Together's console. Fewer jobs at once keep it whole.",
    },
    {
      id: 'PollerRateLimitedAlarm',
      metric: poller.metricRateLimited(),
      threshold: 1,
      description:
        `Together rate-limited the poller (HTTP 429) ${inARow}: outcomes are held back until it lets us through. ` +
        'Poll less often, or ask Together for a higher rate limit.',
      evaluationPeriods: polls,
    },
  ]);
}

/** The alarms of `specs`, in order, as children of `scope`, each notifying `topic`. */
function alarmsOn(scope: Construct, topic: sns.ITopic, specs: AlarmSpec[]): cloudwatch.Alarm[] {
  return specs.map((spec) => {
    const evaluationPeriods = spec.evaluationPeriods ?? 1;
    const alarm = new cloudwatch.Alarm(scope, spec.id, {
      metric: spec.metric,
      threshold: spec.threshold,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: spec.description,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(topic));
    return alarm;
  });
}
