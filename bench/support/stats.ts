/** The figures every benchmark prints: medians over rounds with their spread, in MiB where memory. */

export const MiB = 1024 * 1024;

export const mib = (bytes: number) => bytes / MiB;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `min-max`. */
export const spread = (xs: number[], digits = 0) =>
  `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;

/** `median (min-max)`. */
export const withSpread = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${spread(xs, digits)})`;
