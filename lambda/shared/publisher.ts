import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE } from '../../lib/events';

/** Largest PutEvents entry EventBridge accepts, in bytes: Source, DetailType and Detail in UTF-8 together. */
export const MAX_ENTRY_BYTES = 256 * 1024;

export class PublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

/** Puts one event on the bus; throws unless EventBridge accepted it. */
export async function putEvent(
  client: EventBridgeClient,
  eventBusName: string,
  detailType: string,
  detail: string,
): Promise<void> {
  const out = await client.send(
    new PutEventsCommand({
      Entries: [{ EventBusName: eventBusName, Source: EVENT_SOURCE, DetailType: detailType, Detail: detail }],
    }),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
    throw new PublishError(
      `EventBridge rejected the event: ${entry?.ErrorCode ?? 'no event id'} ${entry?.ErrorMessage ?? ''}`.trim(),
    );
  }
}
