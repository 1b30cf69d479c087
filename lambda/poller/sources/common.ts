/** Small readers shared by the sources: Together's answers are checked field by field, never trusted whole. */

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Epoch ms of an ISO time, NaN when absent or unreadable. */
export const time = (value: unknown): number => (typeof value === 'string' ? Date.parse(value) : NaN);

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Longest error text carried in an event: the whole entry must stay under EventBridge's 256 KB. */
export const MAX_ERROR_MESSAGE = 4_000;
