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
 * The rules of `rules` whose pattern takes events of `type` from Together (string values only); `takes` says which
 * of `universe` (the catalogue's types) each takes besides.
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
    if (!allows(pattern.source, EVENT_SOURCE) || !allows(pattern['detail-type'], type)) return [];
    // A rule that names no detail-type takes every type: only counted when it names Together as the source.
    if (pattern['detail-type'] === undefined && pattern.source === undefined) return [];
    const named = pattern['detail-type'];
    return [
      {
        name: rule.Name!,
        arn: rule.Arn!,
        alert: ALERT_DESCRIPTION.test(rule.Description ?? ''),
        detailFilter: pattern.detail !== undefined,
        enabled: rule.State === undefined || rule.State === 'ENABLED',
        takes:
          named === undefined ? 'all' : [...new Set([type, ...universe])].filter((t) => allows(named, t)),
      },
    ];
  });
}

function allows(values: unknown, value: string): boolean {
  return values === undefined || (Array.isArray(values) && values.includes(value));
}
