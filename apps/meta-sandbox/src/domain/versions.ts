/**
 * Graph API versions and how a path's version segment is read (docs/meta-platform.md §1.1).
 * Pure: no Fastify.
 */

/** Released Graph versions, newest first, with their end of life (ms since epoch). */
export const GRAPH_VERSIONS: ReadonlyArray<{ major: number; expiresAt: number }> = [
  { major: 26, expiresAt: Number.POSITIVE_INFINITY },
  { major: 25, expiresAt: Date.UTC(2028, 6, 29) },
  { major: 24, expiresAt: Date.UTC(2028, 1, 18) },
  { major: 23, expiresAt: Date.UTC(2027, 9, 8) },
  { major: 22, expiresAt: Date.UTC(2027, 4, 20) },
  { major: 21, expiresAt: Date.UTC(2027, 0, 21) },
  { major: 20, expiresAt: Date.UTC(2026, 8, 24) },
  { major: 19, expiresAt: Date.UTC(2026, 4, 21) },
];

/** The version a call without a version segment is answered as (the app's default, §1.1). */
export const DEFAULT_GRAPH_MAJOR = 26;

/** A path segment that looks like a version (`v23.0`, `v99.0`, `v2.10`). */
export const VERSION_SEGMENT = /^v\d+\.\d+$/;

export type ResolvedVersion = { ok: true; major: number } | { ok: false };

/**
 * The version a call is answered as. A released version still alive is itself; one past its end
 * of life is upgraded to the oldest live version (Graph's documented behaviour, §1.1); a version
 * Graph never released (`v99.0`, `v23.1`) is refused.
 */
export function resolveVersion(segment: string | undefined, now: number): ResolvedVersion {
  if (segment === undefined) return { ok: true, major: DEFAULT_GRAPH_MAJOR };
  const match = /^v(\d+)\.(\d+)$/.exec(segment);
  if (!match || match[2] !== '0') return { ok: false };
  const major = Number(match[1]);
  const newest = GRAPH_VERSIONS[0]?.major ?? DEFAULT_GRAPH_MAJOR;
  if (major > newest || major < 1) return { ok: false };
  const live = GRAPH_VERSIONS.filter((v) => v.expiresAt > now);
  const oldestLive = live[live.length - 1]?.major ?? newest;
  return { ok: true, major: Math.max(major, oldestLive) };
}
