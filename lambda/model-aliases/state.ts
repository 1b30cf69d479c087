import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { modelAliasesPrefix } from '../../lib/claim-keys';
import type { AliasStateStore, PendingChange } from './core';

/**
 * Per-alias memory in the receiver's dedupe table, beside the claims (item operations only):
 *
 *   id        `model-aliases#<scope>#alias#<alias>` (claims are `model-aliases#<scope>:<outcome key>`, so never equal)
 *   since_ms  epoch ms of the `since` of the deployment the alias last followed; an older one is refused
 *   pending   the change being made (JSON of PendingChange), set before PutParameter and removed once the change
 *             is logged and announced, so a retry whose PutParameter landed unanswered still announces it
 *
 * No `expiration`: the table's TTL never removes it (one small item per alias that moved).
 */
export class DynamoAliasState implements AliasStateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly scope: string,
  ) {}

  private key(alias: string) {
    return { id: { S: `${modelAliasesPrefix(this.scope)}#alias#${alias}` } };
  }

  async pending(alias: string): Promise<PendingChange | undefined> {
    const got = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: this.key(alias), ConsistentRead: true }),
    );
    const raw = got.Item?.pending?.S;
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as PendingChange;
    } catch {
      return undefined;
    }
  }

  async reserve(alias: string, change: PendingChange, sinceMs?: number): Promise<boolean> {
    const ordered = sinceMs !== undefined;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(alias),
          UpdateExpression: ordered ? 'SET pending = :p, since_ms = :since' : 'SET pending = :p',
          // Equal passes: the retry of the deployment that set it.
          ConditionExpression: ordered ? 'attribute_not_exists(since_ms) OR since_ms <= :since' : undefined,
          ExpressionAttributeValues: {
            ':p': { S: JSON.stringify(change) },
            ...(ordered ? { ':since': { N: String(sinceMs) } } : {}),
          },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async settle(alias: string, change: PendingChange): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(alias),
          UpdateExpression: 'REMOVE pending',
          ConditionExpression: 'pending = :p',
          ExpressionAttributeValues: { ':p': { S: JSON.stringify(change) } },
        }),
      );
    } catch (err) {
      // Another event's change took its place: theirs to settle.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}
