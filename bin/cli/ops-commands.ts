import type { Command } from './commands';
import { replay } from './replay';
import { status } from './status';
import { trace } from './trace';

/** The operating commands (replay, trace, status): they read a deployed TogetherWebhooks through the AWS SDK. */

const FINDING = `  --stack NAME          the CloudFormation stack holding the TogetherWebhooks: its table, bus, archive, queue,
                        poller and alarms are found in it (the flags below override)
  --scope SCOPE         which TogetherWebhooks, when the stack has two (its claim scope, the verifier's CLAIM_SCOPE)
  --region R            the AWS region (default: the SDK's chain, AWS_REGION, the profile's)
  --profile P           the AWS profile (default: the SDK's chain)`;

export const OPS_COMMANDS: Record<string, Command> = {
  replay: {
    summary: "replay the archive to the bus's rules for some types, and follow it to its end",
    usage: `together-webhooks replay --since T [--until T] [--type TYPE ...] [--include-wider-rules] [--name NAME] [--timeout SECONDS] [--dry-run]
                         [--stack NAME] [--scope SCOPE] [--archive NAME] [--bus NAME] [--region R] [--profile P]

Replays the construct's archive (EventBridge StartReplay) to its bus, to the rules that route the types asked
(FilterArns), alert rules and disabled rules left out; then follows DescribeReplay every 5 s until it ends. Replayed events carry the
same detail, so the same detail.outcome_key, plus a "replay-name" field. The dedupe table does not stop them: a replay
goes around the verifier, so handlers get each replayed event again and must be idempotent on detail.outcome_key.

  --since T             the window's start: an ISO time with its zone (2026-11-23T10:00:00Z), or a while ago (2h)
  --until T             the window's end (default: now; not after now)
  --type TYPE           replays only to the rules of this type (repeatable; default: every type's rules). A rule
                        taking other types too (or every type: no detail-type) is left out, and named, since a
                        replay cannot filter by type: each rule gets every archived event of the window
  --include-wider-rules puts those rules back: they also receive the window's events of their other types
  --name NAME           the replay's name (default: together-<time>)
  --timeout SECONDS     stops following after this long, leaving the replay running (default 900)
  --dry-run             prints the replay it would start, and the aws command doing the same; starts nothing
  --archive NAME        the archive (default: the construct's, from --stack)
  --bus NAME            the bus, checked against the archive's (a replay goes to the bus it was archived from)
${FINDING}`,
    spec: {
      values: [
        'since',
        'until',
        'type',
        'name',
        'timeout',
        'stack',
        'scope',
        'archive',
        'bus',
        'region',
        'profile',
      ],
      switches: ['dry-run', 'include-wider-rules'],
    },
    run: replay,
  },
  trace: {
    summary: 'what happened to one outcome: its claim, its rules, the dead-letter queue',
    usage: `together-webhooks trace <outcome_key|job id> [--peek] [--stack NAME] [--scope SCOPE] [--table NAME] [--bus NAME]
                         [--dlq-url URL] [--region R] [--profile P]

Reads the outcome's claim in the dedupe table: who claimed it (the poller or the webhook), when, and whether it was
published (COMPLETED). A job id looks up each outcome named by the id alone (fine_tune.completed:<id>,
batch.done:<id>, ...); checkpoints, stalls and transitions need the outcome key (detail.outcome_key). Then the rules
on the bus that take its type, and the dead-letter queue's depth. The claim records no event id.

  --peek                reads up to 50 dead letters to find this outcome, with a visibility timeout of 0 (they stay
                        visible to everyone; each read counts in their receive count)
  --table NAME          the dedupe table (default: the construct's, from --stack)
  --bus NAME            the bus whose rules are listed (default: the construct's)
  --dlq-url URL         the dead-letter queue (default: the construct's)
${FINDING}`,
    spec: {
      values: ['stack', 'scope', 'table', 'bus', 'dlq-url', 'region', 'profile'],
      switches: ['peek'],
    },
    run: trace,
  },
  status: {
    summary: "the poller's health: last poll, held back outcomes, lease, followed jobs, alarms",
    usage: `together-webhooks status [--lookback MINUTES] [--stack NAME] [--scope SCOPE] [--table NAME] [--poller-scope S]
                         [--log-group NAME] [--alarm-prefix P] [--region R] [--profile P]

One screen: the last poll's result (its "poll" log line), the lease, the jobs followed per source, the finished
ones held back and why, an API key Together refuses, and the construct's alarms in ALARM.

  --lookback MINUTES    how far back the last poll line is looked for (default 30): the last 2 min first, then 10,
                        then this, a few pages each
  --table NAME          the dedupe table, which holds the poller's state (default: the construct's, from --stack)
  --poller-scope S      the poller's state scope, its STATE_SCOPE (default: the construct's poller)
  --log-group NAME      the poller's log group (default: the construct's poller's)
  --alarm-prefix P      the alarms to look at, by name prefix (default: the construct's, from --stack)
${FINDING}`,
    spec: {
      values: [
        'lookback',
        'stack',
        'scope',
        'table',
        'poller-scope',
        'log-group',
        'alarm-prefix',
        'region',
        'profile',
      ],
    },
    run: status,
  },
};
