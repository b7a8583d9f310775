import table from './services.json' with { type: 'json' };

/**
 * The six services, their default ports and whether they own a MongoDB database.
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
}

/** Typed as a full record, so a service missing from services.json does not compile. */
export const SERVICES: Readonly<Record<ServiceName, ServiceInfo>> = table;
