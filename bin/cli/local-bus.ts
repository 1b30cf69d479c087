import { randomUUID } from 'node:crypto';
import { EVENT_SOURCE, EVENT_TYPES } from '../../lib/events';
import { alertPattern, EventPatternJson, matchesPattern, pascal, routePattern } from '../../lib/patterns';

/**
 * An in-process EventBridge bus with the construct's rules: `Route<Type>` for every catalogue type (the rule a
 * handler subscribed with `onEvent` gets) and `Alert<Type>` with its filters. Each published event is printed as one
 * JSON line: the event EventBridge would deliver, and the rules that matched.
 */
export class LocalBus {
  published = 0;
  private readonly rules: Array<{ name: string; pattern: EventPatternJson }> = EVENT_TYPES.flatMap((type) => {
    const alert = alertPattern(type);
    return [
      { name: `Route${pascal(type)}`, pattern: routePattern(type) },
      ...(alert ? [{ name: `Alert${pascal(type)}`, pattern: alert }] : []),
    ];
  });

  constructor(private readonly print: (line: string) => void) {}

  async publish(detailType: string, detail: string): Promise<void> {
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source: EVENT_SOURCE,
      account: '000000000000',
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: 'local',
      resources: [],
      detail: JSON.parse(detail) as unknown,
    };
    const rules = this.rules.filter((r) => matchesPattern(r.pattern, event)).map((r) => r.name);
    this.published++;
    this.print(JSON.stringify({ rules, event }));
  }
}
