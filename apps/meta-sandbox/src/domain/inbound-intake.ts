import { randomBytes } from 'node:crypto';
import { AppError, type SandboxInboundRequest } from '@wapi/contracts';
import { newWamid } from './ids';
import { type BuiltMedia, buildInbound, DEFAULT_MIME, MEDIA_KINDS } from './inbound';
import { mediaInfo, storeMedia } from './media';
import { INBOUND_MEDIA_MAX_BYTES, INBOUND_MEDIA_TTL_MS } from './media-types';
import { type Clock, numberMetadata, type WebhookSink } from './ports';
import { customerOf, type World, windowKey } from './world';

export interface InboundIntakeDeps {
  world: World;
  clock: Clock;
  webhooks: WebhookSink;
}

/**
 * A simulated customer sends messages to a business number (§3.4), in order. Each one counts
 * toward the number's throughput (§5.1) without ever being refused, opens or refreshes the
 * 24 h customer-service window (§6), marks a Click-to-WhatsApp referral as a free entry point
 * (§6), stores its media for download (§10) and goes out as a `messages` webhook. Returns the
 * wamids. `mediaBase` is the base URL of media download links.
 */
export function receiveInbound(
  deps: InboundIntakeDeps,
  input: SandboxInboundRequest,
  mediaBase: string,
): { ids: string[] } {
  const { world, clock, webhooks } = deps;
  const number = world.numbers.get(input.phoneNumberId);
  if (!number)
    throw new AppError(
      'VALIDATION_FAILED',
      `unknown phone number ${input.phoneNumberId}; create it first (POST /_sandbox/phone-numbers or the seed)`,
    );
  const customer = customerOf(world, input.from);
  if (input.name) customer.name = input.name;
  const key = windowKey(number.id, input.from);
  const ids: string[] = [];
  for (const spec of input.messages) {
    const now = clock.now();
    // §5.1: inbound counts toward the number's throughput; a user's message is never refused.
    number.limiter.tryTake(now);
    let media: BuiltMedia | undefined;
    const oversize = spec.fileSize !== undefined && spec.fileSize > INBOUND_MEDIA_MAX_BYTES;
    if (MEDIA_KINDS.has(spec.kind) && !oversize) {
      const mimeType = spec.mimeType ?? DEFAULT_MIME[spec.kind] ?? 'application/octet-stream';
      const bytes = spec.data ? Buffer.from(spec.data, 'base64') : randomBytes(64);
      const stored = storeMedia(world, now, {
        phoneNumberId: number.id,
        mimeType,
        bytes,
        ttlMs: INBOUND_MEDIA_TTL_MS,
      });
      media = {
        id: stored.id,
        mimeType,
        sha256: stored.sha256,
        url: mediaInfo(world, now, mediaBase, stored).url,
      };
    }
    const wamid = newWamid(input.from);
    const message = buildInbound(
      spec,
      {
        from: input.from,
        id: wamid,
        timestamp: String(Math.floor(now / 1_000)),
        businessNumber: number.display,
      },
      media,
    );
    world.inbound.set(wamid, {
      wamid,
      phoneNumberId: number.id,
      from: input.from,
      type: String(message.type),
      message,
      at: now,
      readByBusiness: false,
    });
    world.lastInbound.set(key, now);
    if (spec.referral) {
      // §6: a Click-to-WhatsApp inbound makes the next reply within 24 h a free entry point.
      const entry = world.entryPoints.get(key) ?? {
        referralAt: now,
        windowStart: undefined,
        conversationId: '',
      };
      entry.referralAt = now;
      world.entryPoints.set(key, entry);
    }
    webhooks.toNumber(number, 'messages', {
      messaging_product: 'whatsapp',
      metadata: numberMetadata(number),
      contacts: [{ profile: { name: customer.name }, wa_id: input.from }],
      messages: [message],
    });
    ids.push(wamid);
  }
  return { ids };
}
