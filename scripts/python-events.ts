/**
 * Python handler authors get the event shapes as TypedDicts generated from the catalogue (lib/events.ts), the way
 * TypeScript authors get TogetherEventBridgeEvent<'...'>. Written into the generated Python package as
 * `together_webhooks.events` (after jsii-pacmak); `npm run build:python` runs it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EVENT_SOURCE, EVENT_TYPES, eventSpec, FieldSpec } from '../lib/events';

const pascal = (type: string) =>
  type
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');

function pythonType(f: FieldSpec): string {
  const base = f.kind === 'string' ? 'str' : f.kind === 'integer' ? 'int' : 'float';
  const value = f.nullable ? `Optional[${base}]` : base;
  return f.optional ? `NotRequired[${value}]` : value;
}

export function pythonEvents(): string {
  const lines = [
    '"""Typed shapes of the EventBridge events together-webhooks publishes.',
    '',
    'Generated from the event catalogue (lib/events.ts) by scripts/python-events.ts: do not edit.',
    "A handler subscribed to one type receives that type's *Event; `detail` is the envelope plus `outcome_key`.",
    '"""',
    '',
    'import sys',
    'from typing import List, Literal, Optional, TypedDict, Union',
    '',
    'if sys.version_info >= (3, 11):',
    '    from typing import NotRequired',
    'else:  # pragma: no cover',
    '    from typing_extensions import NotRequired',
    '',
    `EVENT_SOURCE = ${JSON.stringify(EVENT_SOURCE)}`,
    `EVENT_TYPES = ${JSON.stringify(EVENT_TYPES)}`,
    '',
  ];
  for (const type of EVENT_TYPES) {
    const name = pascal(type);
    const spec = eventSpec(type);
    lines.push(
      '',
      `class ${name}Data(TypedDict):`,
      `    """\`data\` of ${type}: ${spec.description}"""`,
      '',
      ...Object.entries(spec.fields).map(([field, f]) => `    ${field}: ${pythonType(f)}`),
      '',
      '',
      `class ${name}Detail(TypedDict):`,
      `    """\`detail\` of ${type}: the envelope, plus the outcome key a handler can be idempotent on."""`,
      '',
      '    id: str',
      `    type: Literal[${JSON.stringify(type)}]`,
      '    created_at: NotRequired[Union[str, int, float]]',
      `    data: ${name}Data`,
      '    outcome_key: str',
      '',
      '',
      `${name}Event = TypedDict(`,
      `    ${JSON.stringify(`${name}Event`)},`,
      '    {',
      '        "version": str,',
      '        "id": str,',
      `        "detail-type": Literal[${JSON.stringify(type)}],`,
      `        "source": Literal[${JSON.stringify(EVENT_SOURCE)}],`,
      '        "account": str,',
      '        "time": str,',
      '        "region": str,',
      '        "resources": List[str],',
      `        "detail": ${name}Detail,`,
      '    },',
      ')',
      `"""The EventBridge event a handler of ${type} receives."""`,
      '',
    );
  }
  lines.push('', `TogetherEvent = Union[${EVENT_TYPES.map((t) => `${pascal(t)}Event`).join(', ')}]`, '');
  return lines.join('\n');
}

export function writePythonEvents(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, pythonEvents());
}

if (require.main === module) {
  const file = join(__dirname, '..', 'dist', 'jsii', 'python', 'src', 'together_webhooks', 'events.py');
  writePythonEvents(file);
  console.error(`wrote ${file.slice(join(__dirname, '..').length + 1)}`);
}
