import './formats';

export * from './errors';
export * from './health';
export * from './meta';
export * from './prefixes';
export * from './queues';
export const SERVICE_NAMES = [
  'gateway',
  'webhook-ingest',
  'message-sender',
  'compliance',
  'vault',
  'meta-sandbox',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
