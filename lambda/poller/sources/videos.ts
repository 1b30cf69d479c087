import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { TrackedSource } from '../tracked';
import { ListedJob, PollContext } from '../tracker';
import { iso, isRealTime, MAX_ERROR_MESSAGE, notThatJob } from './common';

/**
 * Tracked video generations (`tracking` on): Together lists none, so each is handed in (lib/track.ts) and asked
 * for by id, `GET /videos/{id}` on Together's v2 API. `completed` is `video.completed` (with `outputs.video_url`),
 * `failed` is `video.failed` (with `error.message`); `in_progress` or a status Together adds is still running.
 */

export interface TrackedVideo extends ListedJob {
  readonly videoId: string;
  readonly model: string;
  readonly completedAt?: string;
  readonly videoUrl: string | null;
  readonly cost: number | null;
  readonly errorMessage?: string;
}

const TERMINAL = new Set(['completed', 'failed']);

/** Together's v2 base from the v1 one the poller is given: `https://api.together.xyz/v1` -> `.../v2`. */
export function v2BaseUrl(v1: string): string | undefined {
  const trimmed = v1.replace(/\/+$/, '');
  return /\/v1$/.test(trimmed) ? trimmed.replace(/\/v1$/, '/v2') : undefined;
}

export function trackedVideo(key: string, item: unknown, now: number): TrackedVideo | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || typeof item.status !== 'string') return undefined;
  // Unix seconds, as the spec says.
  const completedMs = typeof item.completed_at === 'number' ? item.completed_at * 1000 : NaN;
  const at = isRealTime(completedMs, now) ? Math.min(completedMs, now) : NaN;
  const outputs = isObject(item.outputs) ? item.outputs : {};
  const error = isObject(item.error) ? item.error : {};
  return {
    id: key,
    videoId: item.id,
    status: item.status,
    terminal: TERMINAL.has(item.status),
    at,
    endedBy: NaN,
    model: typeof item.model === 'string' ? item.model : '',
    completedAt: Number.isFinite(at) ? iso(at) : undefined,
    videoUrl: typeof outputs.video_url === 'string' && outputs.video_url !== '' ? outputs.video_url : null,
    cost: Number.isInteger(outputs.cost) ? (outputs.cost as number) : null,
    errorMessage: typeof error.message === 'string' && error.message !== '' ? error.message : undefined,
  };
}

export class VideoSource extends TrackedSource<TrackedVideo> {
  readonly name = 'videos';
  protected readonly kind = 'video';

  constructor(
    private readonly baseUrl: string | undefined,
    ...rest: ConstructorParameters<typeof TrackedSource>
  ) {
    super(...rest);
  }

  async get(ctx: PollContext, key: string): Promise<TrackedVideo | undefined> {
    const { id } = this.entry(key);
    const path = `/videos/${encodeURIComponent(id)}`;
    if (!this.baseUrl)
      throw new RequestFailed(
        `GET ${path}: Together serves videos on its v2 API, and the API base URL ends in no /v1`,
      );
    const answer = await ctx.api.get(path, { value: undefined }, this.baseUrl);
    if (answer === undefined) return undefined;
    const video = trackedVideo(key, answer, ctx.now);
    if (!video || video.videoId !== id) throw notThatJob(path, video && { id: video.videoId }, 'video');
    return video;
  }

  async finish(ctx: PollContext, video: TrackedVideo): Promise<void> {
    const base = { video_id: video.videoId, model: video.model };
    if (video.status === 'completed') {
      await ctx.deliver('video.completed', video.completedAt, {
        ...base,
        video_url: video.videoUrl,
        cost: video.cost,
      });
      return;
    }
    await ctx.deliver('video.failed', video.completedAt, {
      ...base,
      error_message: (video.errorMessage ?? 'video generation failed').slice(0, MAX_ERROR_MESSAGE),
    });
  }
}
