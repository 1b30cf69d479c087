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
