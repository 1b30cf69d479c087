import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { UsageError } from './args';

/**
 * The dedupe table on this machine: dynalite (a DynamoDB engine in this process) on a free loopback port, with one
 * table keyed as the construct's (`id`, a string), for `dev`.
 */

type Dynalite = (opts: { createTableMs: number }) => Server;

/**
 * Loaded only here, when `dev` starts: the other commands need no local DynamoDB engine. The CLI bundle carries
 * dynalite (bin/cli/bundle.ts), so this fails only when run from the sources without the devDependencies.
 */
function loadDynalite(): Dynalite {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('dynalite') as Dynalite;
  } catch (err) {
    throw new UsageError(
      `dynalite, the local DynamoDB engine that holds the dedupe table, did not load (${(err as Error).message.split('\n')[0]}): ` +
        'the CLI bundle (npm run build:handlers) carries it; from the sources, npm install the devDependencies',
      { cause: err },
    );
  }
}

/** A table as the construct's dedupe table is keyed: `id`, a string; on demand. */
export async function createDedupeTable(client: DynamoDBClient, name: string): Promise<string> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

export interface LocalTable {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** Where dynalite listens: `track --endpoint` writes to this table from another process. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startLocalTable(table: string): Promise<LocalTable> {
  const dynalite = loadDynalite()({ createTableMs: 0 });
  await new Promise<void>((resolve) => dynalite.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(dynalite.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await createDedupeTable(client, table);
  return {
    client,
    table,
    endpoint,
    async stop() {
      client.destroy();
      await new Promise((resolve) => dynalite.close(resolve));
    },
  };
}
