import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** Together's own published API description (shared/together/openapi.yaml): the fake answers and our requests are checked against it. */
const doc = parse(
  readFileSync(join(__dirname, '..', '..', '..', 'shared', 'together', 'openapi.yaml'), 'utf8'),
) as {
  paths: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>
  >;
};

/** Follows a local `$ref` (`#/components/schemas/X`) to the schema it names. */
function resolved(node: unknown): Record<string, unknown> | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref !== 'string') return node as Record<string, unknown>;
  let at: unknown = doc;
  for (const part of ref.replace(/^#\//, '').split('/'))
    at = (at as Record<string, unknown> | undefined)?.[part];
  return resolved(at);
}

/**
 * Two places where Together's description says less than JSON Schema would read into it; read them as meant.
 * - `nullable: true` beside a `oneOf` with no `type` (EvaluationJob.results): one of these, or null.
 * - a `oneOf` whose branches are all objects with nothing required (the same field): any object matches every
 *   branch, so no answer could ever satisfy "exactly one". It means "one of these shapes": `anyOf`.
 */
function readAsMeant(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(readAsMeant);
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node).map(([k, v]) => [k, readAsMeant(v)] as const);
  const copy = Object.fromEntries(entries) as Record<string, unknown>;
  const branches = (node as { oneOf?: unknown }).oneOf;
  const overlapping =
    Array.isArray(branches) &&
    branches.every((b) => {
      const schema = resolved(b);
      return schema?.type === 'object' && !Array.isArray(schema.required);
    });
  if (overlapping) {
    copy.anyOf = copy.oneOf;
    delete copy.oneOf;
  }
  if (copy.nullable === true && !('type' in copy)) {
    const { description, ...schema } = copy;
    delete schema.nullable;
    return { ...(description ? { description } : {}), anyOf: [schema, { type: 'null' }] };
  }
  return copy;
}
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat('float64', true);
ajv.addFormat('integer', true);
ajv.addSchema(readAsMeant(doc) as object, 'openapi');

const templates = Object.keys(doc.paths).map((template) => ({
  template,
  regex: new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));

type Servers = Array<{ url?: string }> | undefined;

/** The version prefix an operation is served under: its own `servers` (GET /videos/{id}: v2), else the spec's. */
function versionOf(template: string, method: string): string {
  const path = doc.paths[template] as unknown as { servers?: Servers } & Record<
    string,
    { servers?: Servers }
  >;
  const url =
    path[method.toLowerCase()]?.servers?.[0]?.url ??
    path.servers?.[0]?.url ??
    (doc as { servers?: Servers }).servers?.[0]?.url;
  return url ? new URL(url).pathname.replace(/\/+$/, '') : '/v1';
}

/**
 * The spec's path template for a concrete path, e.g. `/v1/fine-tunes/ft-1/events` -> `/fine-tunes/{id}/events`;
 * undefined unless the path's version (`/v1`, `/v2`) is the one the spec serves that operation under.
 */
export function describedPath(method: string, path: string): string | undefined {
  const version = /^\/v\d+/.exec(path)?.[0];
  if (!version) return undefined;
  const below = path.slice(version.length);
  const exact = templates.find((t) => t.template === below);
  const match =
    exact ?? templates.find((t) => t.regex.test(below) && doc.paths[t.template][method.toLowerCase()]);
  if (!match || !doc.paths[match.template][method.toLowerCase()]) return undefined;
  return versionOf(match.template, method) === version ? match.template : undefined;
}

/**
 * What is wrong with a request's query string for its operation: a required query parameter missing, or one the
 * spec does not describe; undefined when it is right.
 */
export function queryErrors(method: string, path: string, search: string): string[] | undefined {
  const template = describedPath(method, path);
  if (!template) return [`${method} ${path} is not described by the spec`];
  const op = doc.paths[template][method.toLowerCase()] as {
    parameters?: Array<{ in?: string; name?: string; required?: boolean }>;
  };
  const described = (op.parameters ?? []).filter((p) => p.in === 'query');
  const given = new URLSearchParams(search);
  const errors = [
    ...described.filter((p) => p.required && !given.get(p.name!)).map((p) => `query ${p.name} is required`),
    ...[...given.keys()]
      .filter((k) => !described.some((p) => p.name === k))
      .map((k) => `query ${k} is not described`),
  ];
  return errors.length > 0 ? errors : undefined;
}

const validators = new Map<string, ValidateFunction>();

/** Checks a JSON answer against the spec's schema for that operation and status; returns the errors, if any. */
export function responseErrors(
  method: string,
  path: string,
  status: number,
  body: unknown,
): string[] | undefined {
  const template = describedPath(method, path);
  if (!template) return [`${method} ${path} is not described by the spec`];
  const op = method.toLowerCase();
  const key = `${op} ${template} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    const response = doc.paths[template][op].responses?.[String(status)];
    // A text or binary answer (file content) has no JSON to check: the fake records its body as undefined.
    if (response?.content && !response.content['application/json'] && body === undefined) return undefined;
    // A status described with no content at all (GET /videos/{id}'s 404): an empty answer is what it says.
    if (response && !response.content && body === undefined) return undefined;
    if (!response?.content?.['application/json']) return [`${key}: the spec describes no JSON answer`];
    const pointer = template.replace(/~/g, '~0').replace(/\//g, '~1');
    validate = ajv.compile({
      $ref: `openapi#/paths/${pointer}/${op}/responses/${status}/content/application~1json/schema`,
    });
    validators.set(key, validate);
  }
  return validate(body) ? undefined : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

let errorData: ValidateFunction | undefined;

/**
 * Checks an answer against the spec where it describes that status; an error status it does not describe for that
 * operation (many operations list only their 200) must still have Together's documented error shape, ErrorData.
 */
export function answerErrors(
  method: string,
  path: string,
  status: number,
  body: unknown,
): string[] | undefined {
  const template = describedPath(method, path);
  const described = template && doc.paths[template][method.toLowerCase()].responses?.[String(status)];
  if (described || status < 400) return responseErrors(method, path, status, body);
  errorData ??= ajv.compile({ $ref: 'openapi#/components/schemas/ErrorData' });
  return errorData(body) ? undefined : (errorData.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const requestValidators = new Map<string, ValidateFunction>();

/** Checks a request's JSON body against the spec's requestBody for that operation; returns the errors, if any. */
export function requestErrors(method: string, path: string, body: unknown): string[] | undefined {
  const template = describedPath(method, path);
  if (!template) return [`${method} ${path} is not described by the spec`];
  const op = method.toLowerCase();
  const key = `${op} ${template}`;
  let validate = requestValidators.get(key);
  if (!validate) {
    const operation = doc.paths[template][op] as { requestBody?: { content?: Record<string, unknown> } };
    if (!operation.requestBody)
      return body === undefined ? undefined : [`${key}: the spec describes no body`];
    if (!operation.requestBody.content?.['application/json'])
      return [`${key}: the spec describes no JSON body`];
    const pointer = template.replace(/~/g, '~0').replace(/\//g, '~1');
    validate = ajv.compile({
      $ref: `openapi#/paths/${pointer}/${op}/requestBody/content/application~1json/schema`,
    });
    requestValidators.set(key, validate);
  }
  return validate(body) ? undefined : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
