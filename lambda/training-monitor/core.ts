import type { TrainingMonitorMetric } from '../../lib/contract';
import { nonEmptyString } from '../shared/guards';
import { LogLine } from '../shared/log';

/**
 * Training progress as a CloudWatch metric: each `fine_tune.checkpoint` with a loss becomes one `TrainingLoss`
 * sample (dimension `FineTuneId`) through an EMF log line, dated by the checkpoint so a late delivery still plots
 * at its step's time. No API call, so no permission beyond the function's own logs.
 */

export const TRAINING_LOSS: TrainingMonitorMetric = 'TrainingLoss';

export interface CheckpointDetail {
  readonly fine_tune_id: string;
  readonly step: number;
  readonly loss: number;
  readonly created_at?: string | number;
}

/** Rejects what cannot be plotted; a null loss is not an error (the poller may not know it). */
export function readCheckpoint(event: unknown): CheckpointDetail | { skip: string } {
  const e = (event ?? {}) as { 'detail-type'?: unknown; detail?: unknown };
  if (e['detail-type'] !== 'fine_tune.checkpoint') {
    throw new Error(
      `expected a fine_tune.checkpoint event, got detail-type ${String(e['detail-type']).slice(0, 80)}`,
    );
  }
  const detail = (e.detail ?? {}) as { data?: Record<string, unknown>; created_at?: unknown };
  const data = detail.data ?? {};
  const fineTuneId = nonEmptyString(data.fine_tune_id);
  if (fineTuneId === undefined) throw new Error('fine_tune.checkpoint without data.fine_tune_id');
  const refused = dimensionValueProblem(fineTuneId);
  if (refused) return { skip: refused };
  if (data.loss === null || data.loss === undefined) return { skip: 'the checkpoint carries no loss' };
  if (typeof data.loss !== 'number' || !Number.isFinite(data.loss)) {
    return { skip: `loss is not a finite number: ${JSON.stringify(data.loss).slice(0, 40)}` };
  }
  const createdAt = detail.created_at;
  return {
    fine_tune_id: fineTuneId,
    step: Number.isInteger(data.step) ? (data.step as number) : -1,
    loss: data.loss,
    created_at: typeof createdAt === 'string' || typeof createdAt === 'number' ? createdAt : undefined,
  };
}

/** CloudWatch's Dimension value: 1 to 1024 characters. */
const DIMENSION_VALUE_MAX = 1024;

/**
 * Why CloudWatch would refuse `id` as a dimension value (ASCII only, no control characters, at least one
 * non-whitespace character, at most 1024 characters); undefined when it takes it. A refused value would cost the
 * whole EMF line its metric, so the checkpoint is skipped with this reason instead.
 */
function dimensionValueProblem(id: string): string | undefined {
  const why = (rule: string, size = '') =>
    `fine_tune_id ${JSON.stringify(id.length > 60 ? id.slice(0, 60) + '...' : id)}${size} cannot be a CloudWatch dimension value: ${rule}`;
  if (id.length > DIMENSION_VALUE_MAX)
    return why(`at most ${DIMENSION_VALUE_MAX}`, ` (${id.length} characters)`);
  if (!/^[\x20-\x7e]*$/.test(id)) return why('ASCII only, no control characters');
  if (id.trim() === '') return why('it is blank');
  return undefined;
}

/** CloudWatch takes EMF samples up to two weeks old and two hours ahead; outside that, the sample is dated now. */
const OLDEST_MS = 14 * 24 * 3600_000 - 3600_000;
const NEWEST_MS = 2 * 3600_000 - 60_000;

export function sampleTime(createdAt: string | number | undefined, nowMs: number): number {
  const t =
    typeof createdAt === 'number'
      ? createdAt < 1e12
        ? createdAt * 1000
        : createdAt
      : createdAt
        ? Date.parse(createdAt)
        : NaN;
  return Number.isFinite(t) && t >= nowMs - OLDEST_MS && t <= nowMs + NEWEST_MS ? Math.round(t) : nowMs;
}

/**
 * The EMF line. A redelivered checkpoint writes the same value at the same time again, which leaves the Average,
 * Minimum and Maximum the dashboard plots unchanged.
 */
export function lossLine(c: CheckpointDetail, namespace: string, nowMs: number): LogLine {
  return {
    message: 'training loss',
    FineTuneId: c.fine_tune_id,
    step: c.step,
    [TRAINING_LOSS]: c.loss,
    _aws: {
      Timestamp: sampleTime(c.created_at, nowMs),
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [['FineTuneId']],
          Metrics: [{ Name: TRAINING_LOSS, Unit: 'None' }],
        },
      ],
    },
  };
}
