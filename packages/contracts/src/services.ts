import table from './services.json' with { type: 'json' };

/**
 * The six services, their default ports, whether they own a MongoDB database, and who may
 * call them internally.
 * One table for everything that needs it: each app's PORT default, `./wapi up`
 * (scripts/up.mjs reads services.json), the image health check and the compose checks.
 */
export const SERVICE_NAMES = [
  'gateway',
  'webhook-ingest',
  'message-sender',
  'compliance',
  'vault',
  'meta-sandbox',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceInfo {
  port: number;
  database: boolean;
  /** Whether the service signs and verifies internal (service-to-service) tokens. */
  internalAuth: boolean;
  /**
   * The services allowed to call this one's `/internal/*` routes. Each is given the public
   * keys of exactly these callers (`INTERNAL_AUTH_PUBLIC_KEYS`), so a service not listed
   * cannot reach it even with a valid key of its own.
   */
  callers: readonly ServiceName[];
}

// Typed as a full record, so a service missing from services.json does not compile; the
// callers, which JSON types as plain strings, are checked by name when the module loads.
const table_: Readonly<Record<ServiceName, Omit<ServiceInfo, 'callers'> & { callers: readonly string[] }>> =
  table;
for (const [name, info] of Object.entries(table_)) {
  for (const caller of info.callers) {
    if (!(SERVICE_NAMES as readonly string[]).includes(caller))
      throw new Error(`services.json: ${name} lists unknown caller ${JSON.stringify(caller)}`);
  }
}

export const SERVICES = table_ as Readonly<Record<ServiceName, ServiceInfo>>;
