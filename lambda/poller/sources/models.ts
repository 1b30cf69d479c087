import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { ModelsState, STATE_VERSION } from '../state';
import { Deferred, PollContext } from '../tracker';
import { iso } from './common';

/**
 * Watched models: a model once listed by `GET /models` and then missing from it for `missingForMs` is published
 * as `model.deprecated`. The dedupe key names the episode (when it went missing), so a short listing glitch
 * publishes nothing, and a model that comes back and later goes again is published again.
 */

export interface ModelWatchOptions {
  readonly watchModels: readonly string[];
  readonly modelInfo: Readonly<Record<string, { replacementModel?: string; sunsetDate?: string }>>;
  readonly missingForMs: number;
}

export function freshModelsState(): ModelsState {
  return { v: STATE_VERSION, models: {} };
}

/** Returns how many models Together listed, and the watched ones it has never listed. */
export async function watchModels(
  ctx: PollContext,
  state: ModelsState,
  options: ModelWatchOptions,
): Promise<{ listed: number; neverListed: string[] }> {
  const answer = await ctx.api.get('/models');
  if (!Array.isArray(answer)) throw new RequestFailed('GET /models: unexpected answer (not an array)');
  const listed = new Set(
    answer
      .filter(isObject)
      .map((m) => m.id)
      .filter((id): id is string => typeof id === 'string'),
  );
  const neverListed: string[] = [];
  for (const id of Object.keys(state.models)) if (!options.watchModels.includes(id)) delete state.models[id];
  for (const id of options.watchModels) {
    const m = (state.models[id] ??= {});
    if (listed.has(id)) {
      m.listed ??= ctx.now;
      if (m.missingSince !== undefined) {
        ctx.log({
          level: 'INFO',
          message: 'watched model listed again',
          modelId: id,
          missingSince: iso(m.missingSince),
        });
        delete m.missingSince;
      }
      continue;
    }
    if (m.listed === undefined) {
      neverListed.push(id);
      continue;
    }
    m.missingSince ??= ctx.now;
    if (ctx.now - m.missingSince < options.missingForMs || m.published === m.missingSince) continue;
    const info = options.modelInfo[id] ?? {};
    try {
      await ctx.deliver('model.deprecated', iso(ctx.now), {
        model_id: id,
        replacement_model: info.replacementModel ?? null,
        sunset_date: info.sunsetDate ?? null,
        missing_since: iso(m.missingSince),
      });
    } catch (err) {
      if (err instanceof Deferred) continue;
      throw err;
    }
    m.published = m.missingSince;
  }
  return { listed: listed.size, neverListed };
}
