import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { fineTuneRetryPrefix } from '../../lib/claim-keys';

/**
 * Where each retry's lineage is kept: one item per job this recipe made (`fine-tune-retry#<scope>#lineage#<id>`),
 * naming the lineage's original job and the attempt it is. When that job fails too, its record gives the next
 * attempt's number, so the count survives any number of failures and never depends on the event.
 */
export interface Lineage {
  readonly original: string;
  readonly attempt: number;
}

export interface LineageStore {
  get(fineTuneId: string): Promise<Lineage | undefined>;
  put(fineTuneId: string, lineage: Lineage, nowMs: number): Promise<void>;
}

/** Kept this long at least: a queued and then long fine-tune can fail weeks after it was submitted. */
export const LINEAGE_RETENTION_SECONDS = 90 * 86400;

export function lineageKey(scope: string, fineTuneId: string): string {
  return `${fineTuneRetryPrefix(scope)}#lineage#${fineTuneId}`;
}

export class DynamoLineageStore implements LineageStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly scope: string,
    private readonly retentionSeconds: number,
  ) {}

  async get(fineTuneId: string): Promise<Lineage | undefined> {
    const got = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: lineageKey(this.scope, fineTuneId) } },
        ConsistentRead: true,
      }),
    );
    const original = got.Item?.original?.S;
    const attempt = Number(got.Item?.attempt?.N);
    return original && Number.isInteger(attempt) ? { original, attempt } : undefined;
  }

  /** Written again with the same values when a retry adopts the job: idempotent. */
  async put(fineTuneId: string, lineage: Lineage, nowMs: number): Promise<void> {
    const keep = Math.max(this.retentionSeconds, LINEAGE_RETENTION_SECONDS);
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          id: { S: lineageKey(this.scope, fineTuneId) },
          original: { S: lineage.original },
          attempt: { N: String(lineage.attempt) },
          expiration: { N: String(Math.floor(nowMs / 1000) + keep) },
        },
      }),
    );
  }
}
