import { aws_eventschemas as eventschemas } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { eventSchemas } from './event-schemas';
import { pascal } from './patterns';

/**
 * The opt-in schema registry (`schemas: true`): one `OpenApi3` schema per catalogue type, named as EventBridge's
 * discovery would name it. CloudFormation names the registry (two constructs in one account never clash); each
 * schema's construct id is `Schema<Type>`.
 */
export function createSchemaRegistry(scope: Construct): eventschemas.CfnRegistry {
  const registry = new eventschemas.CfnRegistry(scope, 'Schemas', {
    description:
      'together-webhooks: one schema per Together event type on this bus (generated from its catalogue)',
  });
  for (const { type, name, content } of eventSchemas()) {
    new eventschemas.CfnSchema(scope, `Schema${pascal(type)}`, {
      registryName: registry.attrRegistryName,
      schemaName: name,
      type: 'OpenApi3',
      description: (content.info as { description: string }).description,
      content: JSON.stringify(content),
    });
  }
  return registry;
}
