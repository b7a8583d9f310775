import type { HourlyCallLimiter, PairLimiter, ThroughputLimiter } from './rate-limiters';

/** The simulated Meta world, held in memory (the sandbox owns no wapi data). */

export interface SandboxApp {
  id: string;
  name: string;
  secret: string;
  callbackUrl: string | undefined;
  verifyToken: string | undefined;
}

export interface AccessToken {
  value: string;
  appId: string;
  /** `system` tokens see every WABA of the world; `business` tokens only their `wabaIds` (§1.2). */
  kind: 'system' | 'business';
  wabaIds: string[];
  expiresAt: number | undefined;
  revoked: boolean;
  issuedAt: number;
}

export interface OAuthCode {
  code: string;
  appId: string;
  wabaIds: string[];
  expiresAt: number;
  used: boolean;
}

export interface Subscription {
  appId: string;
  overrideCallbackUri: string | undefined;
  verifyToken: string | undefined;
}

export interface Waba {
  id: string;
  name: string;
  businessId: string;
  subscriptions: Map<string, Subscription>;
  /** Management call log per app (§5.4). */
  callLimiters: Map<string, HourlyCallLimiter>;
  templateCreations: number[];
}

export interface PhoneNumber {
  id: string;
  wabaId: string;
  /** Digits only, as in webhooks' `display_phone_number` (§3.3). */
  display: string;
  callingCode: string;
  verifiedName: string;
  qualityRating: string;
  messagingLimit: string;
  throughputMps: number;
  registered: boolean;
  pin: string | undefined;
  registerCalls: number[];
  override: { uri: string; verifyToken: string | undefined } | undefined;
  limiter: ThroughputLimiter;
}

export interface Customer {
  waId: string;
  name: string;
  onWhatsApp: boolean;
  online: boolean;
  readReceipts: boolean;
  marketing: 'stop' | 'resume';
}

export type TemplateStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'PAUSED' | 'DISABLED';

export interface Template {
  id: string;
  wabaId: string;
  name: string;
  language: string;
  category: string;
  status: TemplateStatus;
  parameterFormat: 'named' | 'positional';
  components: Array<Record<string, unknown>>;
  createdAt: number;
}

export interface Media {
  id: string;
  phoneNumberId: string;
  mimeType: string;
  bytes: Buffer;
  sha256: string;
  createdAt: number;
  expiresAt: number;
}

export type StatusName = 'sent' | 'delivered' | 'read' | 'failed';

/** An outbound message the platform sent, with what the simulated user saw. */
export interface OutboundMessage {
  wamid: string;
  phoneNumberId: string;
  to: string;
  type: string;
  payload: Record<string, unknown>;
  at: number;
  version: number;
  statuses: Array<{ status: StatusName; at: number; errorCode?: number }>;
  /** A status still waiting for the device to come online. */
  awaitingDevice: boolean;
}

export interface InboundRecord {
  wamid: string;
  phoneNumberId: string;
  from: string;
  type: string;
  message: Record<string, unknown>;
  at: number;
  readByBusiness: boolean;
}

export interface World {
  apps: Map<string, SandboxApp>;
  tokens: Map<string, AccessToken>;
  codes: Map<string, OAuthCode>;
  wabas: Map<string, Waba>;
  numbers: Map<string, PhoneNumber>;
  customers: Map<string, Customer>;
  templates: Map<string, Template>;
  media: Map<string, Media>;
  /** Signed media URL tokens (§10: valid 5 minutes). */
  mediaUrls: Map<string, { mediaId: string; expiresAt: number }>;
  outbound: Map<string, OutboundMessage>;
  inbound: Map<string, InboundRecord>;
  /** Last inbound time per `${phoneNumberId}:${waId}`: the customer-service window (§6). */
  lastInbound: Map<string, number>;
  pairLimiters: Map<string, PairLimiter>;
}

export function createWorld(): World {
  return {
    apps: new Map(),
    tokens: new Map(),
    codes: new Map(),
    wabas: new Map(),
    numbers: new Map(),
    customers: new Map(),
    templates: new Map(),
    media: new Map(),
    mediaUrls: new Map(),
    outbound: new Map(),
    inbound: new Map(),
    lastInbound: new Map(),
    pairLimiters: new Map(),
  };
}

/** Empties every collection in place (control API reset). */
export function clearWorld(world: World): void {
  for (const value of Object.values(world)) (value as Map<unknown, unknown>).clear();
}

/** Every number is on WhatsApp, online, with read receipts on, unless the control API says otherwise. */
export function customerOf(world: World, waId: string): Customer {
  let customer = world.customers.get(waId);
  if (!customer) {
    customer = {
      waId,
      name: `Customer ${waId.slice(-4)}`,
      onWhatsApp: true,
      online: true,
      readReceipts: true,
      marketing: 'resume',
    };
    world.customers.set(waId, customer);
  }
  return customer;
}

export const windowKey = (phoneNumberId: string, waId: string) => `${phoneNumberId}:${waId}`;

/** 24 h customer-service window (§6). */
export const SERVICE_WINDOW_MS = 24 * 3_600_000;

export function inServiceWindow(world: World, phoneNumberId: string, waId: string, now: number): boolean {
  const last = world.lastInbound.get(windowKey(phoneNumberId, waId));
  return last !== undefined && now - last < SERVICE_WINDOW_MS;
}
