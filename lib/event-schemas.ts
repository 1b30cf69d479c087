/**
 * One schema per catalogue type, generated from the catalogue (lib/events.ts): what the construct's opt-in schema
 * registry holds (`schemas: true`) and what the package ships in `schemas/` for tools that want them. The format is
 * the one EventBridge's own schema discovery writes (OpenAPI 3.0, an `AWSEvent` with `x-amazon-events-*`), so the
 * console shows each event and its code-binding download works for it.
 *
 * TypeScript-only (not in lib/index.ts): the construct and scripts/event-schemas.ts use it.
 */

import {
  EVENT_SOURCE,
  EVENT_TYPES,
  eventSpec,
  FieldSpec,
  OUTCOME_KEY_FIELD,
  TogetherEventType,
} from './events';
import { pascal } from './patterns';

/** As EventBridge names a discovered schema: `<source>@<DetailType>`. */
export function schemaName(type: TogetherEventType): string {
  return `${EVENT_SOURCE}@${pascal(type)}`;
}

const ALWAYS = 'Together always sends it; an event published without it is still possible (see the data).';
const SOMETIMES = 'Together does not always send it.';

function fieldSchema(field: FieldSpec): Record<string, unknown> {
  return {
    type: field.kind,
    ...(field.nullable ? { nullable: true } : {}),
    description: `${field.description} ${field.optional ? SOMETIMES : ALWAYS}`,
    ...(field.example === null ? {} : { example: field.example }),
  };
}

/** The OpenAPI 3.0 document of one type's EventBridge event. */
export function eventSchema(type: TogetherEventType): Record<string, unknown> {
  const spec = eventSpec(type);
  const title = pascal(type);
  const fields = Object.entries(spec.fields);
  const str = { type: 'string' };
  return {
    openapi: '3.0.0',
    info: { version: '1.0.0', title, description: spec.description },
    paths: {},
    components: {
      schemas: {
        AWSEvent: {
          type: 'object',
          required: [
            'detail-type',
            'resources',
            'detail',
            'id',
            'source',
            'time',
            'region',
            'version',
            'account',
          ],
          'x-amazon-events-detail-type': type,
          'x-amazon-events-source': EVENT_SOURCE,
          properties: {
            detail: { $ref: `#/components/schemas/${title}` },
            account: str,
            'detail-type': { type: 'string', enum: [type] },
            id: str,
            region: str,
            resources: { type: 'array', items: str },
            source: { type: 'string', enum: [EVENT_SOURCE] },
            time: { type: 'string', format: 'date-time' },
            version: str,
          },
        },
        [title]: {
          type: 'object',
          description: 'The envelope as Together sent it (or the poller built it), plus the outcome key.',
          required: ['id', 'type', 'data', OUTCOME_KEY_FIELD],
          properties: {
            id: { type: 'string', description: "The sender's event id (the poller's: the outcome key)." },
            type: { type: 'string', enum: [type] },
            // Either an ISO 8601 string or Unix seconds, as senders write it: no single OpenAPI 3.0 type.
            created_at: { description: 'When the outcome happened: ISO 8601 text, or Unix seconds.' },
            data: { $ref: `#/components/schemas/${title}Data` },
            [OUTCOME_KEY_FIELD]: {
              type: 'string',
              description:
                'Names the outcome: every copy of one outcome (webhook, poll, replay) carries the same.',
            },
          },
        },
        // No `required`: it would list what the verifier enforces, none of data's fields. The verifier publishes a
        // known type whose data lacks a field, counting a soft problem (a missed event is worse than a loose one).
        // A registry describes what is on the bus: a validator built from it must not refuse such an event, and a
        // code binding must leave the field optional. Each field's description says whether Together always sends
        // it. (OpenAPI 3.0 wants a `required` list non-empty, so none rather than an empty one.) The kinds stay:
        // they are Together's contract, which bindings need; a field of another kind is published too, and counted.
        [`${title}Data`]: {
          type: 'object',
          description:
            "The outcome's fields as Together sent them. None is required: the verifier publishes an event whose data " +
            'lacks a field Together always sends (or has one of another kind), counting it as a soft problem.',
          properties: Object.fromEntries(fields.map(([name, f]) => [name, fieldSchema(f)])),
        },
      },
    },
  };
}

/** Every catalogue type's schema, in catalogue order. */
export function eventSchemas(): Array<{
  type: TogetherEventType;
  name: string;
  content: Record<string, unknown>;
}> {
  return EVENT_TYPES.map((type) => ({ type, name: schemaName(type), content: eventSchema(type) }));
}
