/** One structured line: stable keys, plus CloudWatch embedded metrics when `metrics` is given. */
export type LogLine = Record<string, unknown>;
export type Logger = (line: LogLine) => void;

export interface MetricsContext {
  readonly namespace: string;
  /** Dimension value of `Service`, so each construct's metrics stay apart. */
  readonly service: string;
}

/** Adds an EMF block so CloudWatch turns the line's counters into metrics, with no API call. */
export function withMetrics<M extends string>(
  line: LogLine,
  ctx: MetricsContext,
  /** By metric name: the handler's names in lib/contract.ts (`VerifierMetric`, `PollerMetric`). */
  counters: Readonly<Partial<Record<M, number>>>,
  nowMs: number,
): LogLine {
  const names = Object.keys(counters);
  if (names.length === 0) return line;
  return {
    ...line,
    Service: ctx.service,
    ...counters,
    _aws: {
      Timestamp: nowMs,
      CloudWatchMetrics: [
        {
          Namespace: ctx.namespace,
          Dimensions: [['Service']],
          Metrics: names.map((Name) => ({ Name, Unit: 'Count' })),
        },
      ],
    },
  };
}

/**
 * Writes past Lambda's console patching so the JSON log format keeps our line at the top level, where the
 * EMF parser looks for `_aws`.
 */
export const stdoutLogger: Logger = (line) => {
  process.stdout.write(JSON.stringify(line) + '\n');
};

/** A safe string for logs from anything thrown. */
export function errorName(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}
