import { EventBridgeClient, ListRulesCommand, Rule } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE } from '../../lib/events';

/**
 * The rules on the construct's bus that take events of a type, read live (ListRules), so a rule added outside the
 * construct counts too. Managed rules (an archive's own) are left out. The construct's alert rules are told apart
 * by the description lib/alerts.ts gives them (`Together AI <type> events to the alert topic`): a replay leaves
 * them out, so it sends no alert a second time.
 */

export interface BusRule {
  readonly name: string;
  readonly arn: string;
  readonly alert: boolean;
  /** It also filters on `detail`: only some events of the type match. */
  readonly detailFilter: boolean;
  /** Its source and detail-type use only the filters judged here; else it is kept, as possibly taking the type. */
  readonly understood: boolean;
  /** Its State is ENABLED (a DISABLED rule receives nothing, a replay included). */
  readonly enabled: boolean;
  /** The Together types its pattern takes, of `universe`; `all` when it names no detail-type (a catch-all). */
  readonly takes: readonly string[] | 'all';
}

const MAX_RULE_PAGES = 20;
const ALERT_DESCRIPTION = / events to the alert topic$/;

export async function busRules(eb: EventBridgeClient, busName: string): Promise<Rule[]> {
  const rules: Rule[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_RULE_PAGES; page++) {
    const got = await eb.send(new ListRulesCommand({ EventBusName: busName, NextToken: token, Limit: 100 }));
    rules.push(...(got.Rules ?? []));
    token = got.NextToken;
    if (!token) break;
  }
  return rules.filter((r) => !r.ManagedBy && r.EventPattern && r.Name && r.Arn);
}

/**
 * The rules of `rules` whose pattern takes events of `type` from Together, judged on `source` and `detail-type` as
 * EventBridge does for the content filters a person writes (exact strings, `prefix`, `suffix`, `anything-but`,
 * `wildcard`, `exists`, `equals-ignore-case`); a rule using another filter there is kept, as not understood. `takes`
 * says which of `universe` (the catalogue's types) each takes besides.
 */
export function rulesOfType(
  rules: readonly Rule[],
  type: string,
  universe: readonly string[] = [type],
): BusRule[] {
  return rules.flatMap((rule) => {
    let pattern: Record<string, unknown>;
    try {
      pattern = JSON.parse(rule.EventPattern!) as Record<string, unknown>;
    } catch {
      return [];
    }
    const named = pattern['detail-type'];
    // A rule that names no detail-type takes every type: only counted when it names Together as the source.
    if (named === undefined && pattern.source === undefined) return [];
    const source = matches(pattern.source, EVENT_SOURCE);
    const detailType = matches(named, type);
    if (source === false || detailType === false) return [];
    const understood = source !== UNKNOWN && detailType !== UNKNOWN;
    return [
      {
        name: rule.Name!,
        arn: rule.Arn!,
        alert: ALERT_DESCRIPTION.test(rule.Description ?? ''),
        detailFilter: pattern.detail !== undefined,
        enabled: rule.State === undefined || rule.State === 'ENABLED',
        understood,
        takes:
          named === undefined || !understood
            ? 'all'
            : [...new Set([type, ...universe])].filter((t) => matches(named, t) === true),
      },
    ];
  });
}

const UNKNOWN = 'unknown';
type Verdict = boolean | typeof UNKNOWN;

/** Whether a pattern's field (`source`, `detail-type`) takes the string `value`, or `unknown`. */
export function matches(spec: unknown, value: string): Verdict {
  if (spec === undefined) return true;
  if (!Array.isArray(spec)) return UNKNOWN;
  let verdict: Verdict = false;
  for (const element of spec) {
    const one = matchesOne(element, value);
    if (one === true) return true;
    if (one === UNKNOWN) verdict = UNKNOWN;
  }
  return verdict;
}

function matchesOne(element: unknown, value: string): Verdict {
  if (typeof element === 'string') return element === value;
  if (typeof element === 'number' || typeof element === 'boolean' || element === null) return false;
  if (typeof element !== 'object' || Object.keys(element).length !== 1) return UNKNOWN;
  const [[op, arg]] = Object.entries(element as Record<string, unknown>);
  switch (op) {
    case 'prefix':
    case 'suffix':
      return affix(op, arg, value);
    case 'equals-ignore-case':
      return typeof arg === 'string' ? arg.toLowerCase() === value.toLowerCase() : UNKNOWN;
    case 'wildcard':
      return typeof arg === 'string' ? wildcard(arg).test(value) : UNKNOWN;
    case 'exists':
      // A rule's source and detail-type are always there.
      return typeof arg === 'boolean' ? arg : UNKNOWN;
    case 'anything-but': {
      const inner =
        typeof arg === 'string'
          ? matchesOne(arg, value)
          : Array.isArray(arg) && arg.every((a) => typeof a === 'string')
            ? arg.includes(value)
            : arg && typeof arg === 'object' && !Array.isArray(arg)
              ? matchesOne(arg, value)
              : UNKNOWN;
      return inner === UNKNOWN ? UNKNOWN : !inner;
    }
    default:
      return UNKNOWN;
  }
}

/** `{prefix: "batch."}`, `{suffix: ".done"}`, or either with `{equals-ignore-case: ...}` inside. */
function affix(op: 'prefix' | 'suffix', arg: unknown, value: string): Verdict {
  let text: string;
  let fold = false;
  if (typeof arg === 'string') text = arg;
  else if (
    arg &&
    typeof arg === 'object' &&
    typeof (arg as Record<string, unknown>)['equals-ignore-case'] === 'string'
  ) {
    text = (arg as Record<string, string>)['equals-ignore-case'];
    fold = true;
  } else return UNKNOWN;
  const [t, v] = fold ? [text.toLowerCase(), value.toLowerCase()] : [text, value];
  return op === 'prefix' ? v.startsWith(t) : v.endsWith(t);
}

/** EventBridge's wildcard: `*` any run of characters, `\*` a star. */
function wildcard(glob: string): RegExp {
  const parts = glob
    .split(/(\\\*|\*)/)
    .map((p) => (p === '*' ? '.*' : p === '\\*' ? '\\*' : p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('')}$`, 's');
}
