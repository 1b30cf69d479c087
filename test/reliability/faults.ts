/** What the reliability suite and its receiver process share (the receiver module itself starts a server). */

export type Fault =
  | 'dynamodb'
  | 'putevents-5xx'
  | 'putevents-failed-entry'
  | 'putevents-timeout-after-accept'
  | 'secrets'
  | 'complete'
  | 'kill-after-publish';

/** How long a claim holds while a request runs (the Lambda's remaining time): short, so held claims lapse soon. */
export const CLAIM_MS = 1_500;

/** The receiver's tag on every answer: the faults in force (comma-separated; empty for none) while it handled it. */
export const FAULTS_HEADER = 'x-reliability-faults';

/**
 * The receiver's name on every answer. Its port can be taken by another process's server after a kill (a parallel
 * test's dynalite answers 400): an answer without this run's name is not from the receiver.
 */
export const RECEIVER_HEADER = 'x-reliability-receiver';
/** The verifier's own account of a request (`<outcome>:<error>`, from its log line): why a 5xx was answered. */
export const CAUSE_HEADER = 'x-reliability-cause';

/** What the suite tells the receiver over IPC: the fault in force (confirmed by `ack`), or a flush of its stdout. */
export type ReceiverCommand = { fault: Fault | null; seq: number } | { sync: number };
