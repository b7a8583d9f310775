import { type Static, Type } from '@sinclair/typebox';

/** `GET /health`: the process is alive. */
export const HealthResponse = Type.Object({
  status: Type.Literal('ok'),
  service: Type.String(),
});
export type HealthResponse = Static<typeof HealthResponse>;

export const DependencyCheck = Type.Object({
  name: Type.String(),
  ok: Type.Boolean(),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String()),
});
export type DependencyCheck = Static<typeof DependencyCheck>;

/** `GET /health/ready`: every dependency answered within its timeout (200) or not (503). */
export const ReadinessResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  service: Type.String(),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  /** Names of the dependencies that failed, e.g. `["redis"]`. Empty when ready. */
  failed: Type.Array(Type.String()),
  checks: Type.Array(DependencyCheck),
  versions: Type.Record(Type.String(), Type.String()),
});
export type ReadinessResponse = Static<typeof ReadinessResponse>;

/** `GET /internal/v1/whoami` (service token required): which service answered, and as whom it took the caller. */
export const WhoAmIResponse = Type.Object({ service: Type.String(), caller: Type.String() });
export type WhoAmIResponse = Static<typeof WhoAmIResponse>;
