import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  checkTrackRequest,
  TRACK_CLIENT_CONFIG,
  TrackRequest,
  TrackResult,
  writeTracked,
} from '../../lib/track';
import { checkUrl, flag, ParsedArgs, UsageError } from './args';
import { FileTrackInbox } from './file-inbox';
import { Io } from './io';

/**
 * `track video <id>` / `track queue <request_id> --model M`: hands an operation to a poller, which follows it to
 * its outcome event. To a deployed poller's inbox (`--table`, `--scope`: its stateScope), to `dev`'s (the same
 * with the `--endpoint` dev prints), or to `listen`'s (`--state`, the file listen was given).
 */

export function trackRequest(
  kind: string | undefined,
  id: string | undefined,
  model: string | undefined,
): TrackRequest {
  if (kind !== 'video' && kind !== 'queue')
    throw new UsageError(`what to track: video <id> or queue <request_id> --model M, got "${kind ?? ''}"`);
  if (kind === 'queue' && model === undefined)
    throw new UsageError(
      '--model is required for a queue job: Together asks for the request_id with its model',
    );
  try {
    return checkTrackRequest({ kind, id, model });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^track: /, ''));
  }
}

export async function track(args: ParsedArgs, io: Io): Promise<number> {
  const [kind, id, extra] = args.positionals;
  if (extra !== undefined) throw new UsageError(`one operation at a time, got "${extra}" too`);
  const request = trackRequest(kind, id, flag(args, 'model'));
  const now = (io.clock ?? { now: Date.now }).now();
  const result = await write(args, request, now);
  io.out(result.added ? `tracked ${result.key}` : `${result.key} was tracked already`);
  return 0;
}

async function write(args: ParsedArgs, request: TrackRequest, now: number): Promise<TrackResult> {
  const state = flag(args, 'state');
  const table = flag(args, 'table');
  if (state !== undefined) {
    if (table !== undefined)
      throw new UsageError('--state (listen) or --table (a deployed poller, or dev), not both');
    return new FileTrackInbox(state).add(request, now);
  }
  if (table === undefined)
    throw new UsageError("where to: --table T --scope S (a poller's table), or --state FILE (listen)");
  const scope = flag(args, 'scope');
  if (scope === undefined) throw new UsageError("--scope is required with --table: the poller's stateScope");
  const endpoint = flag(args, 'endpoint');
  const url = endpoint === undefined ? undefined : checkUrl(endpoint, '--endpoint');
  // dev's table (dynalite on 127.0.0.1) takes any credentials; AWS is asked with yours.
  const local = url?.protocol === 'http:';
  const client = new DynamoDBClient({
    ...TRACK_CLIENT_CONFIG,
    region: flag(args, 'region') ?? (local ? 'local' : undefined),
    ...(url ? { endpoint: url.toString() } : {}),
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  try {
    return await writeTracked(client, table, scope, request, now);
  } catch (err) {
    // A malformed scope is the caller's to fix; the rest (AWS, the full inbox) exits 1 with its message.
    if (/scope must be/.test((err as Error).message))
      throw new UsageError((err as Error).message.replace(/^track: /, ''));
    throw err;
  } finally {
    client.destroy();
  }
}
