import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A client for the benchmarks' dynalite. Not test/support/dynalite's `dynamoClient`: that module loads dynalite
 * itself, which a measured process must not carry.
 */
export function benchDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
}
