import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';

/**
 * The poller's memory, kept in the dedupe table beside the claims (keys prefixed `poller#`, which no outcome key
 * can take: those start with an event type).
 */
export interface PollerState {
  /** ISO time: finished fine-tunes updated before it were handled already. */
  fineTuneWatermark?: string;
  /** Those updated exactly at the watermark that were handled (ties are common at second precision). */
  fineTuneWatermarkIds?: string[];
  /** ISO time: batches that ended before it were handled already. */
  batchWatermark?: string;
  batchWatermarkIds?: string[];
  /** Last checkpoint step published, per fine-tune still being followed. */
  checkpointSteps: Record<string, number>;
  /** Watched models listed by Together at the last poll. */
  modelsPresent: string[];
  /** Consecutive polls a previously listed watched model has been missing. */
  modelsMissing: Record<string, number>;
  /** An open incident of Together refusing the API key: alerted once, closed by the first poll that works. */
  authIncident?: { openedAt: string; status: number };
}

export const LEASE_KEY = 'poller#lease';
export const STATE_KEY = 'poller#state';

export function emptyState(): PollerState {
  return { checkpointSteps: {}, modelsPresent: [], modelsMissing: {} };
}

export interface PollerStateStore {
  /** True when this poll may run: no other poll holds an unexpired lease. */
  acquireLease(holder: string, nowMs: number, untilMs: number): Promise<boolean>;
  releaseLease(holder: string): Promise<void>;
  load(): Promise<PollerState | undefined>;
  save(state: PollerState): Promise<void>;
}

export class DynamoPollerStateStore implements PollerStateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async acquireLease(holder: string, nowMs: number, untilMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            id: { S: LEASE_KEY },
            holder: { S: holder },
            lease_until: { N: String(untilMs) },
            // Swept by TTL if a poller dies holding it; the condition below does not wait for that.
            expiration: { N: String(Math.ceil(untilMs / 1000) + 3600) },
          },
          ConditionExpression: 'attribute_not_exists(id) OR lease_until < :now',
          ExpressionAttributeValues: { ':now': { N: String(nowMs) } },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async releaseLease(holder: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { id: { S: LEASE_KEY } },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async load(): Promise<PollerState | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { id: { S: STATE_KEY } }, ConsistentRead: true }),
    );
    const raw = out.Item?.state?.S;
    if (!raw) return undefined;
    return { ...emptyState(), ...(JSON.parse(raw) as Partial<PollerState>) };
  }

  async save(state: PollerState): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: { id: { S: STATE_KEY }, state: { S: JSON.stringify(state) } },
      }),
    );
  }
}
