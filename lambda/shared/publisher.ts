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
/** Where Lambda puts the invocation's X-Ray trace header (set per invocation, sampled or not). */
export const TRACE_HEADER_ENV = '_X_AMZN_TRACE_ID';
/** PutEvents takes a TraceHeader of 1 to 500 characters. */
const MAX_TRACE_HEADER = 500;

export async function putEvent(
  client: EventBridgeClient,
  eventBusName: string,
  detailType: string,
  detail: string,
  traceHeader?: string,
): Promise<string> {
  // EventBridge passes the header on to the targets: a traced target joins this invocation's trace.
  // Only a sampled trace: Lambda sets a header (Sampled=0) even with tracing off, and a traced target given it would
  // follow that "not sampled" instead of deciding for itself.
  const sampled = traceHeader !== undefined && /(^|;)Sampled=1(;|$)/.test(traceHeader);
  const trace = sampled && traceHeader.length <= MAX_TRACE_HEADER ? { TraceHeader: traceHeader } : {};
  const out = await client.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: eventBusName,
          Source: EVENT_SOURCE,
          DetailType: detailType,
          Detail: detail,
          ...trace,
        },
      ],
    }),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
    throw new PublishError(
      `EventBridge rejected the event: ${entry?.ErrorCode ?? 'no event id'} ${entry?.ErrorMessage ?? ''}`.trim(),
    );
  }
  return entry.EventId;
}

/**
 * Whether a failed PutEvents may still have put the event on the bus. EventBridge answering with a failed entry or a
 * 4xx refused it, and a connection never made sent nothing; a 5xx, a timeout or a connection dropped after sending
 * leave it open. (The client makes one attempt, so this is the only attempt's outcome.)
 */
export function publishOutcomeUnknown(err: unknown): boolean {
  if (err instanceof PublishError) return false;
  const e = (err ?? {}) as { $fault?: unknown; code?: unknown; message?: unknown };
  if (e.$fault === 'client') return false;
  // Never connected: nothing was sent.
  if (typeof e.code === 'string' && NOT_SENT.has(e.code)) return false;
  if (typeof e.message === 'string' && /without establishing a connection/.test(e.message)) return false;
  return true;
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
