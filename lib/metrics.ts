import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { DEFAULT_METRICS_NAMESPACE } from './contract';

/** One metric the handlers emit, as the constructs' `metric*` methods describe it. */
export interface LibraryMetricSpec {
  readonly metricName: string;
  readonly dimensionsMap: Record<string, string>;
  /** @default DEFAULT_METRICS_NAMESPACE */
  readonly namespace?: string;
  /** @default 'Sum' */
  readonly statistic?: string;
  /** @default 5 minutes */
  readonly period?: Duration;
}

/** Every construct's metrics are built here: the spec's defaults, then the caller's options, which win. */
export function libraryMetric(
  spec: LibraryMetricSpec,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: spec.namespace ?? DEFAULT_METRICS_NAMESPACE,
    metricName: spec.metricName,
    dimensionsMap: spec.dimensionsMap,
    statistic: spec.statistic ?? 'Sum',
    period: spec.period ?? Duration.minutes(5),
    ...options,
  });
}
