import { UsageError } from './args';

/** Times a person types: an ISO 8601 instant (`2026-11-23T10:00:00Z`), or a while ago (`90m`, `2h`, `7d`). */

const AGO = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The earliest time taken (nothing of this library's is older), and how far ahead of now one may be (clock skew). */
export const EARLIEST_MS = Date.parse('2000-01-01T00:00:00Z');
export const AHEAD_MS = 5 * 60_000;

export function parseTime(raw: string, flagName: string, nowMs: number): number {
  const ms = readTime(raw);
  if (ms === undefined)
    throw new UsageError(
      `--${flagName} must be an ISO 8601 time with its zone (2026-11-23T10:00:00Z) or a while ago (90m, 2h, 7d), ` +
        `got "${raw}"`,
    );
  const value = 'at' in ms ? ms.at : nowMs - ms.ago;
  // 9999999999d is no Date (a RangeError later): refused here, before any AWS call.
  if (!Number.isFinite(value) || value < EARLIEST_MS || value > nowMs + AHEAD_MS)
    throw new UsageError(
      `--${flagName} "${raw}" is out of range: it must fall between 2000-01-01T00:00:00Z and now (${iso(nowMs)})`,
    );
  return value;
}

function readTime(raw: string): { at: number } | { ago: number } | undefined {
  const ago = AGO.exec(raw);
  if (ago) return { ago: Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS] };
  // A bare date or a time without a zone would be read in the machine's zone: ask for the zone.
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(raw)) {
    const ms = Date.parse(raw);
    if (!Number.isNaN(ms)) return { at: ms };
  }
  return undefined;
}

/** `2026-11-23T10:00:00Z`: to the second, in UTC. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** How long ago, roughly: `45 s ago`, `12 min ago`, `3 h ago`, `2 d ago`; `in 20 s` for a time to come. */
export function ago(ms: number, nowMs: number): string {
  const s = Math.round((nowMs - ms) / 1000);
  return s >= 0 ? `${span(s)} ago` : `in ${span(-s)}`;
}

function span(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
