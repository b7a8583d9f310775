import type { HourlyCallLimiter, PairLimiter, ThroughputLimiter } from './rate-limiters';

/** The simulated Meta world, held in memory (the sandbox owns no wapi data). */

export interface SandboxApp {
  id: string;
  name: string;
  secret: string;
  callbackUrl: string | undefined;
  verifyToken: string | undefined;
  /** Webhook fields this app subscribed to (§3.7: per field in the App Dashboard). */
  fields: Set<string>;
}

/** Webhook fields of §3.7; an app subscribes to all of them unless told otherwise. */
export { META_WEBHOOK_FIELDS as WEBHOOK_FIELDS } from '@wapi/contracts';

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
  /** The WhatsApp business profile shown to users (docs/meta-platform.md §8.6). */
  profile: BusinessProfile;
}

/** Business profile fields as Graph names them (§8.6); only fields that were set are kept. */
export interface BusinessProfile {
  about?: string;
  address?: string;
  description?: string;
  email?: string;
  profile_picture_url?: string;
  websites?: string[];
  vertical?: string;
}

export interface Customer {
  waId: string;
  name: string;
  onWhatsApp: boolean;
  online: boolean;
  readReceipts: boolean;
  marketing: 'stop' | 'resume';
  /** §6 / §12 optional knobs: marketing templates this user accepts per rolling 24 h (131049). */
  marketingCap: number | null;
  /** §6: the US (+1) marketing pause (131049); `null` follows SANDBOX_US_MARKETING_PAUSE. */
  usMarketingPause: boolean | null;
  /** §4 130472: the user is in a marketing experiment. */
  marketingExperiment: boolean;
  /** §12: the user blocked businesses — messages stay `sent`, no error (Meta won't disclose). */
  blocked: boolean;
  /** §3.5: the user plays voice notes, producing `played` after `read`. */
  playsVoiceNotes: boolean;
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
  /** §2.11 / §7.2 `message_send_ttl_seconds` (`-1` = 30 days); undefined → the category default. */
  messageSendTtlSeconds: number | undefined;
  /** Times of edits of this template while APPROVED (§7.4: ≤ 1 / 24 h, ≤ 10 / 30 days). */
  approvedEdits: number[];
  /** Times it was paused for low quality (§7.4: the first and second pause differ); absent: 0. */
  pauses?: number;
  /** Its quality score (§3.7 `message_template_quality_update`); absent: UNKNOWN (pending). */
  quality?: TemplateQuality;
}

/** Template quality scores of `message_template_quality_update` (§3.7). */
export type TemplateQuality = 'GREEN' | 'YELLOW' | 'RED' | 'UNKNOWN';

export interface Media {
  id: string;
  phoneNumberId: string;
  mimeType: string;
  bytes: Buffer;
  sha256: string;
  createdAt: number;
  expiresAt: number;
}

export type StatusName = 'sent' | 'delivered' | 'read' | 'failed' | 'played';

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
  /** §2.11: undelivered past this time → dropped silently (absent: `at` + 30 days). */
  ttlExpiresAt?: number;
  /** Set when the message was dropped at its TTL (no webhook; visible in the control API only). */
  droppedAt?: number;
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
  /**
   * Free entry points per `${phoneNumberId}:${waId}` (§6): `referralAt` is the last inbound that
   * came from a Click-to-WhatsApp ad; `windowStart` the business reply that opened the 72 h window.
   */
  entryPoints: Map<string, { referralAt: number; windowStart: number | undefined; conversationId: string }>;
  /** Portfolio reach (§5.3): per business id, wa_id → last business-initiated send time. */
  portfolioReach: Map<string, Map<string, number>>;
  /** Marketing templates per user (§6 per-user limits): send times. */
  marketingLog: Map<string, number[]>;
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
    entryPoints: new Map(),
    portfolioReach: new Map(),
    marketingLog: new Map(),
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
      marketingCap: null,
      usMarketingPause: null,
      marketingExperiment: false,
      blocked: false,
      playsVoiceNotes: false,
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

/** §6: a free-entry-point window lasts 72 h from the business reply that opened it. */
export const FEP_WINDOW_MS = 72 * 3_600_000;

/**
 * The free-entry-point state for a send at `now` (§6): `open` when a 72 h window is running;
 * `opening` when the user came from a Click-to-WhatsApp ad less than 24 h ago and no window
 * runs yet, so this reply opens one.
 */
export function entryPointAt(
  world: World,
  phoneNumberId: string,
  waId: string,
  now: number,
): 'open' | 'opening' | 'none' {
  const entry = world.entryPoints.get(windowKey(phoneNumberId, waId));
  if (!entry) return 'none';
  if (entry.windowStart !== undefined && now - entry.windowStart < FEP_WINDOW_MS) return 'open';
  if (now - entry.referralAt < SERVICE_WINDOW_MS) return 'opening';
  return 'none';
}
