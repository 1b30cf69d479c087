import { Template } from 'aws-cdk-lib/assertions';

export interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

/** The IAM statements attached to the role of the one function whose logical id starts with `prefix`. */
export function functionStatements(t: Template, prefix: string): Statement[] {
  const matches = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith(prefix),
  );
  if (matches.length !== 1)
    throw new Error(`expected one function named ${prefix}*, found ${matches.length}`);
  const role = matches[0][1].Properties.Role['Fn::GetAtt'][0];
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** Every action the statements allow, sorted. */
export function actionsOf(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();
}

/** The resources of the statements whose actions start with `prefix`, as JSON. */
export function resourcesFor(statements: Statement[], prefix: string): string[] {
  return statements
    .filter((s) => JSON.stringify(s.Action).includes(prefix))
    .map((s) => JSON.stringify(s.Resource));
}
