/**
 * The catalogue's event types as constants, for every language the library is published in (a string union would
 * not survive jsii). `onEvent(EventType.BATCH_DONE, ...)` in TypeScript, `on_event(EventType.BATCH_DONE, ...)` in
 * Python. A test keeps them in step with the catalogue (lib/events.ts).
 */
export class EventType {
  /** A fine-tuning job finished and its model is ready. */
  public static readonly FINE_TUNE_COMPLETED = 'fine_tune.completed';
  /** A fine-tuning job stopped with an error. */
  public static readonly FINE_TUNE_FAILED = 'fine_tune.failed';
  /** A failed fine-tune was resubmitted by a retry rule (`TogetherFineTuneRetry`). */
  public static readonly FINE_TUNE_RETRIED = 'fine_tune.retried';
  /** A fine-tuning job saved a checkpoint. */
  public static readonly FINE_TUNE_CHECKPOINT = 'fine_tune.checkpoint';
  /** A fine-tuning job was cancelled. */
  public static readonly FINE_TUNE_CANCELLED = 'fine_tune.cancelled';
  /** A fine-tuning job has shown no progress for hours (the poller only). */
  public static readonly FINE_TUNE_STALLED = 'fine_tune.stalled';
  /** A model you use is deprecated and will be removed. */
  public static readonly MODEL_DEPRECATED = 'model.deprecated';
  /** A batch job reached a terminal state. */
  public static readonly BATCH_DONE = 'batch.done';
  /** An evaluation job finished with results (the poller, with `evaluations` on). */
  public static readonly EVALUATION_COMPLETED = 'evaluation.completed';
  /** An evaluation job stopped with an error (the poller, with `evaluations` on). */
  public static readonly EVALUATION_FAILED = 'evaluation.failed';
  /** A dedicated endpoint finished starting (the poller, with `endpoints` on). */
  public static readonly ENDPOINT_READY = 'endpoint.ready';
  /** A dedicated endpoint failed to start (the poller, with `endpoints` on). */
  public static readonly ENDPOINT_FAILED = 'endpoint.failed';
  /** A Together job (a model upload, ...) completed (the poller, with `jobs` on). */
  public static readonly JOB_COMPLETED = 'job.completed';
  /** A Together job (a model upload, ...) failed (the poller, with `jobs` on). */
  public static readonly JOB_FAILED = 'job.failed';
  /** A custom container deployment became Ready (the poller, with `deployments` on). */
  public static readonly DEPLOYMENT_READY = 'deployment.ready';
  /** A custom container deployment became Failed (the poller, with `deployments` on). */
  public static readonly DEPLOYMENT_FAILED = 'deployment.failed';
  /** A finished batch's output was copied to S3 and its tokens counted (`TogetherBatchResults`). */
  public static readonly BATCH_COLLECTED = 'batch.collected';
  /** A GPU cluster entered Ready, once per transition (the poller, with `clusters` on). */
  public static readonly CLUSTER_READY = 'cluster.ready';
  /** A GPU cluster entered Degraded, once per transition (the poller, with `clusters` on). */
  public static readonly CLUSTER_DEGRADED = 'cluster.degraded';
  /** An RL training session stopped (the poller, with `rlSessions` on). */
  public static readonly RL_SESSION_STOPPED = 'rl_session.stopped';
  /** An RL training session ended in ERROR or EXPIRED (the poller, with `rlSessions` on). */
  public static readonly RL_SESSION_FAILED = 'rl_session.failed';
  /** A tracked video generation completed (the poller, with `tracking` on). */
  public static readonly VIDEO_COMPLETED = 'video.completed';
  /** A tracked video generation failed (the poller, with `tracking` on). */
  public static readonly VIDEO_FAILED = 'video.failed';
  /** A tracked queued inference job is done (the poller, with `tracking` on). */
  public static readonly QUEUE_JOB_DONE = 'queue_job.done';
  /** A tracked queued inference job failed or was canceled (the poller, with `tracking` on). */
  public static readonly QUEUE_JOB_FAILED = 'queue_job.failed';

  /** Every catalogue event type, in catalogue order. */
  public static all(): string[] {
    return [
      EventType.FINE_TUNE_COMPLETED,
      EventType.FINE_TUNE_FAILED,
      EventType.FINE_TUNE_RETRIED,
      EventType.FINE_TUNE_CHECKPOINT,
      EventType.FINE_TUNE_CANCELLED,
      EventType.FINE_TUNE_STALLED,
      EventType.MODEL_DEPRECATED,
      EventType.BATCH_DONE,
      EventType.EVALUATION_COMPLETED,
      EventType.EVALUATION_FAILED,
      EventType.ENDPOINT_READY,
      EventType.ENDPOINT_FAILED,
      EventType.JOB_COMPLETED,
      EventType.JOB_FAILED,
      EventType.DEPLOYMENT_READY,
      EventType.DEPLOYMENT_FAILED,
      EventType.BATCH_COLLECTED,
      EventType.CLUSTER_READY,
      EventType.CLUSTER_DEGRADED,
      EventType.RL_SESSION_STOPPED,
      EventType.RL_SESSION_FAILED,
      EventType.VIDEO_COMPLETED,
      EventType.VIDEO_FAILED,
      EventType.QUEUE_JOB_DONE,
      EventType.QUEUE_JOB_FAILED,
    ];
  }

  private constructor() {}
}
