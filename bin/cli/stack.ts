import {
  CloudFormationClient,
  GetTemplateCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CLAIM_SCOPE_PATTERN } from '../../lib/claim-keys';
import { flag, ParsedArgs, UsageError } from './args';
import { awsError } from './aws';

/**
 * Where a deployed TogetherWebhooks keeps what the operating commands read. With `--stack`, found from the
 * stack itself, so it works for the construct inside any app, whatever outputs that app declares:
 * - the verifier is the function whose environment has CLAIM_SCOPE and SIGNATURE_SCHEME (lib/contract.ts); its
 *   TABLE_NAME, EVENT_BUS_NAME, CLAIM_SCOPE and RETENTION_DAYS name the table, the bus, the claims;
 * - the poller is the function with STATE_SCOPE and the same CLAIM_SCOPE; its log group is its LoggingConfig's;
 * - the archive, the dead-letter queue and the alarms are the construct's children: the verifier's logical id
 *   without `Verifier<hash>` is their logical ids' prefix (`Hooks` in `HooksArchive1A2B3C4D`).
 * A reference (`Ref`) is resolved through ListStackResources; a literal (an imported table or bus) is taken as is.
 * Every explicit flag overrides what the stack says.
 */

export interface Resources {
  readonly stack?: string;
  readonly tableName?: string;
  readonly claimScope?: string;
  readonly pollerScope?: string;
  readonly retentionDays?: number;
  readonly busName?: string;
  readonly archiveName?: string;
  readonly dlqUrl?: string;
  readonly pollerLogGroup?: string;
  readonly alarmNames?: readonly string[];
}

/** The flags that name resources, and the field each one sets. */
export const RESOURCE_FLAGS = {
  table: 'tableName',
  scope: 'claimScope',
  'poller-scope': 'pollerScope',
  bus: 'busName',
  archive: 'archiveName',
  'dlq-url': 'dlqUrl',
  'log-group': 'pollerLogGroup',
} as const satisfies Record<string, keyof Resources>;

/** The alarm ids lib/alerts.ts gives (each `<prefix><id><hash>` in the template). */
export const ALARM_IDS = [
  'VerifierErrorsAlarm',
  'ServerErrorsAlarm',
  'DeadLetterAlarm',
  'RejectedSignaturesAlarm',
  'PollerErrorsAlarm',
  'PollerStoppingAlarm',
  'PollerOutOfTimeAlarm',
  'PollerSkippedAlarm',
  'PollerListingIncompleteAlarm',
  'PollerRateLimitedAlarm',
];

const MAX_RESOURCE_PAGES = 20;

interface TemplateResource {
  readonly Type?: string;
  readonly Properties?: {
    readonly Environment?: { readonly Variables?: Record<string, unknown> };
    readonly LoggingConfig?: { readonly LogGroup?: unknown };
  };
}

type Physical = ReadonlyMap<string, { type?: string; id?: string }>;

/** The resources, from `--stack` (if given) overridden by the explicit flags. */
export async function findResources(args: ParsedArgs, cfn: CloudFormationClient): Promise<Resources> {
  const stack = flag(args, 'stack');
  const found = stack ? await fromStack(cfn, stack, flag(args, 'scope')) : {};
  const explicit = Object.fromEntries(
    Object.entries(RESOURCE_FLAGS)
      .map(([name, field]) => [field, flag(args, name)] as const)
      .filter(([, value]) => value !== undefined),
  );
  // A scope is part of every key read: a mistyped one is the person's to fix (exit 2), not a failed call.
  for (const name of ['scope', 'poller-scope']) {
    const value = flag(args, name);
    if (value !== undefined && !CLAIM_SCOPE_PATTERN.test(value))
      throw new UsageError(
        `--${name} must be 1-100 letters, digits, '_', '.' or '-' (c8...), got "${value}"`,
      );
  }
  return { ...found, ...explicit };
}

/** A resource the command cannot go without: a usage error naming the flag, and --stack. */
export function need<K extends keyof Resources>(
  res: Resources,
  field: K,
  flagName: string,
): NonNullable<Resources[K]> {
  const value = res[field];
  if (value !== undefined && value !== '') return value as NonNullable<Resources[K]>;
  if (res.stack) throw new Error(`stack ${res.stack} has no ${describe(field)}: give --${flagName}`);
  throw new UsageError(`needs --stack NAME or --${flagName} (the ${describe(field)})`);
}

function describe(field: keyof Resources): string {
  const names: Record<keyof Resources, string> = {
    stack: 'stack',
    tableName: 'dedupe table',
    claimScope: 'claim scope (the verifier’s CLAIM_SCOPE)',
    pollerScope: 'poller (its STATE_SCOPE)',
    retentionDays: 'dedupe retention',
    busName: 'event bus',
    archiveName: 'archive',
    dlqUrl: 'dead-letter queue',
    pollerLogGroup: 'poller log group',
    alarmNames: 'alarms',
  };
  return names[field];
}

async function fromStack(cfn: CloudFormationClient, stack: string, scope?: string): Promise<Resources> {
  let template: { Resources?: Record<string, TemplateResource> };
  let physical: Physical;
  try {
    physical = await listResources(cfn, stack);
    const got = await cfn.send(new GetTemplateCommand({ StackName: stack, TemplateStage: 'Original' }));
    template = JSON.parse(got.TemplateBody ?? '{}') as typeof template;
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new Error(`stack ${stack}: its template is not JSON: give the flags instead`, { cause: err });
    throw new Error(`stack ${stack}: ${awsError(err)}`, { cause: err });
  }
  const resources = Object.entries(template.Resources ?? {});
  const verifier = pickVerifier(stack, resources, scope);
  const env = verifier[1].Properties!.Environment!.Variables!;
  const claimScope = String(env.CLAIM_SCOPE);
  const prefix = verifier[0].replace(/Verifier[0-9A-F]{8}$/, '');
  const child = (id: string) => new RegExp(`^${prefix}${id}[0-9A-F]{8}$`);
  const poller = resources.find(([, r]) => {
    const v = functionEnv(r);
    return v?.STATE_SCOPE !== undefined && v.CLAIM_SCOPE === claimScope;
  });
  const byId = (pattern: RegExp) =>
    [...physical.entries()].filter(([id]) => pattern.test(id)).map(([, p]) => p.id!);
  return {
    stack,
    tableName: resolve(env.TABLE_NAME, physical),
    claimScope,
    retentionDays: Number(env.RETENTION_DAYS) || undefined,
    busName: resolve(env.EVENT_BUS_NAME, physical),
    pollerScope: poller ? String(functionEnv(poller[1])!.STATE_SCOPE) : undefined,
    pollerLogGroup: poller ? resolve(poller[1].Properties?.LoggingConfig?.LogGroup, physical) : undefined,
    archiveName: byId(child('Archive'))[0],
    dlqUrl: byId(child('DeadLetterQueue'))[0],
    alarmNames: byId(new RegExp(`^${prefix}(${ALARM_IDS.join('|')})[0-9A-F]{8}$`)),
  };
}

function functionEnv(r: TemplateResource): Record<string, unknown> | undefined {
  return r.Type === 'AWS::Lambda::Function' ? r.Properties?.Environment?.Variables : undefined;
}

/** The one verifier, or the one of `--scope`; two without `--scope` is a question for the person. */
function pickVerifier(
  stack: string,
  resources: Array<[string, TemplateResource]>,
  scope: string | undefined,
): [string, TemplateResource] {
  const verifiers = resources.filter(([, r]) => {
    const v = functionEnv(r);
    return typeof v?.CLAIM_SCOPE === 'string' && v.SIGNATURE_SCHEME !== undefined;
  });
  const chosen = scope ? verifiers.filter(([, r]) => functionEnv(r)!.CLAIM_SCOPE === scope) : verifiers;
  if (chosen.length === 1) return chosen[0];
  const scopes = verifiers.map(([id, r]) => `${String(functionEnv(r)!.CLAIM_SCOPE)} (${id})`).join(', ');
  if (verifiers.length === 0)
    throw new Error(
      `stack ${stack} has no TogetherWebhooks (no verifier function): give --table, --bus, ...`,
    );
  if (scope)
    throw new Error(`stack ${stack} has no TogetherWebhooks with claim scope ${scope}: it has ${scopes}`);
  throw new UsageError(
    `stack ${stack} has ${verifiers.length} TogetherWebhooks: pick one with --scope: ${scopes}`,
  );
}

async function listResources(cfn: CloudFormationClient, stack: string): Promise<Physical> {
  const out = new Map<string, { type?: string; id?: string }>();
  let token: string | undefined;
  for (let page = 0; page < MAX_RESOURCE_PAGES; page++) {
    const got = await cfn.send(new ListStackResourcesCommand({ StackName: stack, NextToken: token }));
    for (const r of got.StackResourceSummaries ?? [])
      if (r.LogicalResourceId)
        out.set(r.LogicalResourceId, { type: r.ResourceType, id: r.PhysicalResourceId });
    token = got.NextToken;
    if (!token) break;
  }
  return out;
}

/** A template value: a literal, or a `Ref` to a resource of the stack; anything else is not known. */
function resolve(value: unknown, physical: Physical): string | undefined {
  if (typeof value === 'string') return value;
  const ref = (value as { Ref?: unknown } | undefined)?.Ref;
  return typeof ref === 'string' ? physical.get(ref)?.id : undefined;
}
