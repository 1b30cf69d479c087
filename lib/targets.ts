import {
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_sns as sns,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { EVENT_CATALOGUE, TogetherEventType } from './events';
import { EventPatternJson } from './patterns';

// What the rules of `TogetherWebhooks` are made of: their patterns in CDK's spelling, and their targets.

/** The alert topic as a rule target, published to with `role` (targets.SnsTopic would grant kms:GenerateDataKey*). */
export class RolePublishedTopic implements events.IRuleTarget {
  constructor(
    private readonly topic: sns.ITopic,
    private readonly role: iam.IRole,
    private readonly message: events.RuleTargetInput,
  ) {}

  bind(): events.RuleTargetConfig {
    return { arn: this.topic.topicArn, input: this.message, role: this.role, targetResource: this.topic };
  }
}

/** Adds the construct's dead-letter queue and retry policy to a target that has none of its own. */
export class DeadLetteredTarget implements events.IRuleTarget {
  constructor(
    private readonly inner: events.IRuleTarget,
    private readonly queue: sqs.IQueue,
    private readonly retryAttempts: number,
  ) {}

  bind(rule: events.IRule, id?: string): events.RuleTargetConfig {
    const config = this.inner.bind(rule, id);
    if (config.deadLetterConfig) return config;
    targets.addToDeadLetterQueueResourcePolicy(rule, this.queue);
    return {
      ...config,
      deadLetterConfig: { arn: this.queue.queueArn },
      retryPolicy: config.retryPolicy ?? {
        maximumRetryAttempts: this.retryAttempts,
        maximumEventAgeInSeconds: 86400,
      },
    };
  }
}

/** Readable alert text from the catalogue: what happened, which job or model, what to do. */
export function alertMessage(type: TogetherEventType, advice: string): events.RuleTargetInput {
  const fields = Object.keys(EVENT_CATALOGUE[type].fields)
    .map((name) => `${name}: ${events.EventField.fromPath(`$.detail.data.${name}`)}`)
    .join('\n');
  return events.RuleTargetInput.fromMultilineText(
    `Together AI: ${EVENT_CATALOGUE[type].description}\n` +
      `event: ${type} (id ${events.EventField.fromPath('$.detail.id')})\n` +
      `${fields}\n` +
      `What to do: ${advice}`,
  );
}

/** lib/patterns.ts speaks EventBridge's JSON; CDK's EventPattern spells `detail-type` as `detailType`. */
export function cdkPattern(pattern: EventPatternJson): events.EventPattern {
  const { 'detail-type': detailType, ...rest } = pattern as Record<string, unknown>;
  return { ...rest, detailType } as events.EventPattern;
}
