/** Stopping a long-running command: Ctrl-C, SIGTERM or the caller's signal, and waits that end early on it. */

export interface Interruption {
  /** Aborted on SIGINT, SIGTERM or the caller's signal. */
  readonly signal: AbortSignal;
  /** Resolves once `signal` is aborted, the process's signal listeners removed. */
  readonly stopped: Promise<void>;
}

export function untilInterrupted(external?: AbortSignal): Interruption {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  external?.addEventListener('abort', onSignal);
  const stopped = new Promise<void>((resolve) =>
    stop.signal.addEventListener('abort', () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      resolve();
    }),
  );
  return { signal: stop.signal, stopped };
}

/** Waits `ms`, or less when `signal` is aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
