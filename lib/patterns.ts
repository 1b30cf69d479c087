import { EVENT_SOURCE, eventSpec, TogetherEventType } from './events';

/**
 * The EventBridge patterns of the construct's rules, as EventBridge stores them, and a matcher for exactly the
 * subset they use (exact values, nested objects). The construct builds its rules from these and the local bus
 * (`together-webhooks dev`) routes with them, so the two cannot disagree. Imports nothing from aws-cdk-lib: the
 * CLI bundles it.
 */

/** A pattern in EventBridge's JSON form: each leaf lists the values that match. */
export interface EventPatternJson {
  readonly [field: string]: readonly (string | number)[] | EventPatternJson;
}

/** The per-type rule, `Route<Type>`: every event of that type. */
export function routePattern(type: string): EventPatternJson {
  return { source: [EVENT_SOURCE], 'detail-type': [type] };
}

/** The alert rule of a catalogue type, `Alert<Type>`, or undefined when the type does not alert. */
export function alertPattern(type: TogetherEventType): EventPatternJson | undefined {
  const alert = eventSpec(type).alert;
  if (!alert) return undefined;
  const when = alert.when;
  return {
    ...routePattern(type),
    ...(when
      ? { detail: { data: Object.fromEntries(Object.entries(when).map(([k, v]) => [k, [...v]])) } }
      : {}),
  };
}

/** A rule's construct id for an event type: `fine_tune.completed` -> `FineTuneCompleted`. */
export function pascal(type: string): string {
  return type
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

/**
 * EventBridge matching for this subset: every field of the pattern must be present in the event; a list matches
 * when the event's value (or, for an array, any of its elements) equals one of its values.
 */
export function matchesPattern(pattern: EventPatternJson, event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const fields = event as Record<string, unknown>;
  return Object.entries(pattern).every(([name, expected]) => {
    if (!(name in fields)) return false;
    const actual = fields[name];
    if (!Array.isArray(expected)) return matchesPattern(expected as EventPatternJson, actual);
    const values = Array.isArray(actual) ? actual : [actual];
    return values.some((v) => (expected as readonly unknown[]).includes(v));
  });
}
