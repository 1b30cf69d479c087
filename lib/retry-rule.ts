import { Token } from 'aws-cdk-lib';
import type { RetryActionName, RetryRuleSpec } from './contract';

/** What a `RetryRule` does when a failed fine-tune's last error matches it. */
export enum RetryAction {
  /** Submit the job again with `batch_size` halved (at least 1): out-of-memory failures. */
  HALVE_BATCH_SIZE = 'HALVE_BATCH_SIZE',
  /** Submit the job again unchanged: transient infrastructure failures. */
  SAME_PARAMETERS = 'SAME_PARAMETERS',
  /** Do not retry; alert, with the rule's advice. */
  NO_RETRY = 'NO_RETRY',
}

/** Options of a `RetryRule`. */
export interface RetryRuleOptions {
  /** Matches a failed job whose last error contains this text, case aside (e.g. `out of memory`). */
  readonly whenErrorMatches: string;
}

/** Options of a rule that does not retry. */
export interface NoRetryRuleOptions extends RetryRuleOptions {
  /**
   * What the alert tells the reader to do; `<file>` stands for the job's training file id.
   * @default - no advice line
   */
  readonly advice?: string;
}

const ACTION_NAMES: Record<RetryAction, RetryActionName> = {
  [RetryAction.HALVE_BATCH_SIZE]: 'halve_batch_size',
  [RetryAction.SAME_PARAMETERS]: 'same_parameters',
  [RetryAction.NO_RETRY]: 'no_retry',
};

/** The advice of the default data-error rule: the command that finds what is wrong in the file. */
export const CHECK_DATA_ADVICE = 'Check the training data: npx together-webhooks check-data <file>';

/**
 * One retry rule of `TogetherFineTuneRetry`: rules are tried in order, and the first whose text the failed job's
 * last error contains decides.
 */
export class RetryRule {
  /** Out of memory: the job again with half the batch size (never below 1; a batch size of 1 is not retried). */
  public static halveBatchSize(options: RetryRuleOptions): RetryRule {
    return new RetryRule(RetryAction.HALVE_BATCH_SIZE, options.whenErrorMatches);
  }

  /** A transient failure: the same job again. */
  public static sameParameters(options: RetryRuleOptions): RetryRule {
    return new RetryRule(RetryAction.SAME_PARAMETERS, options.whenErrorMatches);
  }

  /** An error a retry cannot fix: an alert with `advice` instead. */
  public static noRetry(options: NoRetryRuleOptions): RetryRule {
    return new RetryRule(RetryAction.NO_RETRY, options.whenErrorMatches, options.advice);
  }

  /**
   * The rules used when you give none: out of memory (CUDA's included) halves the batch size; internal and
   * infrastructure errors retry as they were; data and format errors are not retried, the alert naming
   * `npx together-webhooks check-data <file>`.
   */
  public static defaults(): RetryRule[] {
    return [
      RetryRule.halveBatchSize({ whenErrorMatches: 'out of memory' }),
      RetryRule.halveBatchSize({ whenErrorMatches: 'OutOfMemoryError' }),
      RetryRule.sameParameters({ whenErrorMatches: 'internal error' }),
      RetryRule.sameParameters({ whenErrorMatches: 'internal server error' }),
      RetryRule.sameParameters({ whenErrorMatches: 'infrastructure' }),
      RetryRule.sameParameters({ whenErrorMatches: 'node failure' }),
      RetryRule.sameParameters({ whenErrorMatches: 'timed out' }),
      RetryRule.noRetry({ whenErrorMatches: 'invalid json', advice: CHECK_DATA_ADVICE }),
      RetryRule.noRetry({ whenErrorMatches: 'format', advice: CHECK_DATA_ADVICE }),
      RetryRule.noRetry({ whenErrorMatches: 'training data', advice: CHECK_DATA_ADVICE }),
      RetryRule.noRetry({ whenErrorMatches: 'validation', advice: CHECK_DATA_ADVICE }),
    ];
  }

  private constructor(
    /** What it does. */
    public readonly action: RetryAction,
    /** The text it looks for in the error, case aside. */
    public readonly whenErrorMatches: string,
    /** The alert's advice (no-retry rules). */
    public readonly advice?: string,
  ) {
    if (!Token.isUnresolved(whenErrorMatches) && whenErrorMatches.trim() === '')
      throw new Error(
        `RetryRule: whenErrorMatches must be some text to look for in the error, got "${whenErrorMatches}"`,
      );
    if (Token.isUnresolved(whenErrorMatches))
      throw new Error('RetryRule: whenErrorMatches must be known at synth time, not a token');
  }

  /** @internal What the handler reads (RETRY_RULES). */
  public _spec(): RetryRuleSpec {
    return {
      match: this.whenErrorMatches,
      action: ACTION_NAMES[this.action],
      ...(this.advice ? { advice: this.advice } : {}),
    };
  }
}
