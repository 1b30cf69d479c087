import {
  DescribeArchiveCommand,
  DescribeReplayCommand,
  EventBridgeClient,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { EVENT_TYPES, isCatalogueType, OUTCOME_KEY_FIELD } from '../../lib/events';
import { realClock } from '../../lambda/shared/together-api';
import { flag, ParsedArgs, positiveInt, UsageError } from './args';
import { awsError, awsOptions, realAws } from './aws';
import { Io } from './io';
import { BusRule, busRules, rulesOfType } from './rules';
import { findResources, need } from './stack';
import { iso, parseTime } from './times';

/**
 * `replay`: the construct's archive replayed to its bus (StartReplay), to the `Route<Type>` rules of the types asked
 * (FilterArns), then DescribeReplay until it ends. A replay goes from the archive straight to the rules, around the
 * verifier and its claims: the dedupe table does not stop it, so handlers see each replayed event again, with the
 * same `detail` (the same `outcome_key`) and a `replay-name` field.
 */

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
const POLL_MS = 5_000;
const REPLAY_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;

interface Plan {
  readonly name: string;
  readonly archiveArn: string;
  readonly busArn: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly nowMs: number;
  readonly rules: BusRule[];
  /** Rules of the types asked that the replay leaves out, and why (disabled, or they take other types too). */
  readonly leftOut: { rule: BusRule; why: string }[];
  /** With --include-wider-rules: the rules put back, and the other types each will receive. */
  readonly wider: Map<string, string>;
  /** How long the archive keeps events (0 or unset: for ever). */
  readonly retentionDays?: number;
}

export async function replay(args: ParsedArgs, io: Io): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(`takes no arguments, got "${args.positionals[0]}"`);
  const clock = io.clock ?? realClock;
  const nowMs = clock.now();
  const since = flag(args, 'since');
  if (!since)
    throw new UsageError('--since is required: the start of the window to replay (2h, or an ISO time)');
  const startMs = parseTime(since, 'since', nowMs);
  const until = flag(args, 'until');
  const endMs = until === undefined ? nowMs : parseTime(until, 'until', nowMs);
  // EventBridge's StartReplay documentation does not say it takes an EventEndTime after now: not sent.
  if (endMs > nowMs)
    throw new UsageError(
      `--until (${iso(endMs)}) is in the future: a replay ends at now at the latest (leave --until out for now)`,
    );
  if (startMs >= endMs)
    throw new UsageError(`--since (${iso(startMs)}) must be before --until (${iso(endMs)})`);
  const types = checkTypes(args.flags.get('type') ?? []);
  const name = flag(args, 'name') ?? `together-${iso(nowMs).replace(/[-:]/g, '').replace('Z', '')}`;
  if (!REPLAY_NAME.test(name))
    throw new UsageError(`--name must be 1-64 of A-Z a-z 0-9 . - _, got "${name}"`);
  const timeoutMs = positiveInt(args, 'timeout', 900, 86_400) * 1000;

  const aws = (io.aws ?? realAws)(awsOptions(args));
  const res = await findResources(args, aws.cloudFormation);
  const plan = await makePlan(
    aws.eventBridge,
    need(res, 'archiveName', 'archive'),
    res.busName,
    types,
    { name, startMs, endMs, nowMs },
    args.flags.has('include-wider-rules'),
  );
  printPlan(io, plan, types);
  if (args.flags.has('dry-run')) {
    io.err(`dry run: nothing replayed. The same by hand:\n${byHand(plan)}`);
    return 0;
  }
  try {
    await aws.eventBridge.send(
      new StartReplayCommand({
        ReplayName: plan.name,
        EventSourceArn: plan.archiveArn,
        EventStartTime: new Date(plan.startMs),
        EventEndTime: new Date(plan.endMs),
        Destination: { Arn: plan.busArn, FilterArns: plan.rules.map((r) => r.arn) },
      }),
    );
  } catch (err) {
    throw new Error(`could not start replay ${plan.name}: ${awsError(err)}`, { cause: err });
  }
  return follow(aws.eventBridge, io, plan, clock, timeoutMs);
}

function checkTypes(types: readonly string[]): string[] {
  const unknown = types.filter((t) => !isCatalogueType(t));
  if (unknown.length > 0)
    throw new UsageError(`unknown --type ${unknown.join(', ')}; one of: ${EVENT_TYPES.join(', ')}`);
  return [...new Set(types)];
}

/** The archive (its ARN and its bus), and the rules of the types asked (all Together types when none). */
async function makePlan(
  eb: EventBridgeClient,
  archiveName: string,
  busFlag: string | undefined,
  types: readonly string[],
  window: { name: string; startMs: number; endMs: number; nowMs: number },
  includeWider: boolean,
): Promise<Plan> {
  let archive;
  try {
    archive = await eb.send(new DescribeArchiveCommand({ ArchiveName: archiveName }));
  } catch (err) {
    throw new Error(`archive ${archiveName}: ${awsError(err)}`, { cause: err });
  }
  const busArn = archive.EventSourceArn;
  if (!archive.ArchiveArn || !busArn)
    throw new Error(`archive ${archiveName}: no ARN or source bus in its answer`);
  if (archive.State && archive.State !== 'ENABLED')
    throw new Error(`archive ${archiveName} is ${archive.State}: it cannot be replayed now`);
  // A replay goes back to the bus the archive records; a --bus naming another is a mistake worth saying.
  const busName = busArn.slice(busArn.lastIndexOf('/') + 1);
  if (busFlag && busFlag !== busName && busFlag !== busArn)
    throw new UsageError(`archive ${archiveName} records bus ${busName}, not --bus ${busFlag}`);
  const rules = await busRules(eb, busName).catch((err: unknown) => {
    throw new Error(`the rules of bus ${busName}: ${awsError(err)}`, { cause: err });
  });
  const wanted = types.length > 0 ? types : EVENT_TYPES;
  const chosen = new Map<string, BusRule>();
  const leftOut = new Map<string, { rule: BusRule; why: string }>();
  const wider = new Map<string, string>();
  for (const type of wanted)
    for (const rule of rulesOfType(rules, type, EVENT_TYPES)) {
      if (rule.alert || chosen.has(rule.arn) || leftOut.has(rule.arn)) continue;
      if (!rule.enabled) {
        leftOut.set(rule.arn, { rule, why: 'disabled: it would receive nothing' });
        continue;
      }
      // StartReplay cannot filter by type: every archived event of the window goes to each FilterArns rule, which
      // applies its own pattern. A rule taking types not asked would get those replayed too.
      const others = otherTypes(rule, wanted);
      if (others && !includeWider) {
        leftOut.set(rule.arn, { rule, why: `it would also receive ${others} (--include-wider-rules)` });
        continue;
      }
      if (others) wider.set(rule.arn, others);
      chosen.set(rule.arn, rule);
    }
  if (chosen.size === 0)
    throw new Error(
      `no rule on bus ${busName} routes ${types.length ? types.join(', ') : 'Together events'}: nothing would ` +
        'receive the replay (alert rules are left out' +
        [...leftOut.values()].map(({ rule, why }) => `; ${rule.name}: ${why}`).join('') +
        ')',
    );
  return {
    ...window,
    archiveArn: archive.ArchiveArn,
    busArn,
    rules: [...chosen.values()],
    leftOut: [...leftOut.values()],
    wider,
    retentionDays: archive.RetentionDays,
  };
}

/** The types a rule takes besides `wanted`, in words; undefined when it takes no other. */
function otherTypes(rule: BusRule, wanted: readonly string[]): string | undefined {
  if (!rule.understood) return 'other types, perhaps (pattern not understood)';
  if (rule.takes === 'all')
    return wanted.length === EVENT_TYPES.length
      ? undefined
      : 'every other Together type (it names no detail-type)';
  const others = rule.takes.filter((t) => !wanted.includes(t));
  return others.length ? `other types: ${others.join(', ')}` : undefined;
}

function printPlan(io: Io, plan: Plan, types: readonly string[]): void {
  io.err(`replay ${plan.name}: ${types.length ? types.join(', ') : 'every Together type'}`);
  io.err(`  window   ${iso(plan.startMs)} .. ${iso(plan.endMs)}`);
  io.err(`  from     ${plan.archiveArn}`);
  io.err(`  to       ${plan.busArn}, ${plan.rules.length} rule(s):`);
  for (const rule of plan.rules) {
    const others = plan.wider.get(rule.arn);
    io.err(
      `    ${rule.name}${rule.detailFilter ? ' (filters on detail)' : ''}` +
        (others ? ` (it also receives the window's ${others})` : ''),
    );
  }
  for (const { rule, why } of plan.leftOut) io.err(`  left out ${rule.name}: ${why}`);
  const keptFrom = plan.retentionDays ? plan.nowMs - plan.retentionDays * 86_400_000 : undefined;
  if (keptFrom !== undefined && plan.startMs < keptFrom)
    io.err(
      `  note     the archive keeps ${plan.retentionDays} days: events before about ${iso(keptFrom)} are gone`,
    );
}

/** The aws CLI command that does the same. */
function byHand(plan: Plan): string {
  const destination = JSON.stringify({ Arn: plan.busArn, FilterArns: plan.rules.map((r) => r.arn) });
  return [
    `  aws events start-replay --replay-name ${plan.name} --event-source-arn ${plan.archiveArn} \\`,
    `    --event-start-time ${iso(plan.startMs)} --event-end-time ${iso(plan.endMs)} \\`,
    `    --destination '${destination}'`,
  ].join('\n');
}

/** DescribeReplay every 5 s until the replay ends or the timeout passes, printing how far it got. */
async function follow(
  eb: EventBridgeClient,
  io: Io,
  plan: Plan,
  clock: { now(): number; sleep(ms: number): Promise<void> },
  timeoutMs: number,
): Promise<number> {
  const deadline = clock.now() + timeoutMs;
  let said = '';
  for (;;) {
    const got = await eb.send(new DescribeReplayCommand({ ReplayName: plan.name })).catch((err: unknown) => {
      throw new Error(
        `could not read the state of replay ${plan.name}: ${awsError(err)}; it goes on: ` +
          `aws events describe-replay --replay-name ${plan.name}`,
        { cause: err },
      );
    });
    const state = got.State ?? 'UNKNOWN';
    const line = progress(state, got.EventLastReplayedTime?.getTime(), plan);
    if (line !== said) io.err((said = line));
    if (ENDED.has(state)) return ended(io, plan, state, got.StateReason);
    if (clock.now() + POLL_MS > deadline) {
      io.err(
        `together-webhooks replay: still ${state} after ${Math.round(timeoutMs / 1000)} s; it goes on: ` +
          `aws events describe-replay --replay-name ${plan.name}`,
      );
      return 1;
    }
    await clock.sleep(POLL_MS);
  }
}

function progress(state: string, lastMs: number | undefined, plan: Plan): string {
  if (lastMs === undefined) return `  ${state}`;
  const share = Math.max(0, Math.min(1, (lastMs - plan.startMs) / (plan.endMs - plan.startMs)));
  return `  ${state}: replayed up to ${iso(lastMs)} (${Math.round(share * 100)}% of the window)`;
}

function ended(io: Io, plan: Plan, state: string, reason: string | undefined): number {
  if (state !== 'COMPLETED') {
    io.err(`together-webhooks replay: replay ${plan.name} ${state}${reason ? `: ${reason}` : ''}`);
    return 1;
  }
  io.out(JSON.stringify({ replay: plan.name, state, rules: plan.rules.map((r) => r.name) }));
  io.err(
    [
      `replay ${plan.name} completed. Each replayed event has the same detail as the first copy (the same`,
      `detail.${OUTCOME_KEY_FIELD}) and a "replay-name": "${plan.name}" field. The dedupe table did not stop it: a`,
      'replay goes from the archive to the rules, around the verifier, so a handler that must act once checks',
      `detail.${OUTCOME_KEY_FIELD} against what it has done.`,
    ].join('\n'),
  );
  return 0;
}
