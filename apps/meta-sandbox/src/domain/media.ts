import { createHash, randomBytes } from 'node:crypto';
import type { MediaInfo } from '@wapi/contracts';
import { invalidParam, missing } from './graph-error';
import { newObjectId } from './ids';
import { MEDIA_LIMITS, MEDIA_URL_TTL_MS, UPLOADED_MEDIA_TTL_MS } from './media-types';
import type { Part } from './multipart';
import type { Media, World } from './world';

/** Path of media downloads, shaped like Meta's lookaside URLs (§10). */
export const MEDIA_DOWNLOAD_PATH = '/whatsapp_business/attachments/';

/** Keeps `bytes` as media of `phoneNumberId` until `now + ttlMs` (§10). */
export function storeMedia(
  world: World,
  now: number,
  input: { phoneNumberId: string; mimeType: string; bytes: Buffer; ttlMs: number },
): Media {
  const media: Media = {
    id: newObjectId(),
    phoneNumberId: input.phoneNumberId,
    mimeType: input.mimeType,
    bytes: input.bytes,
    sha256: createHash('sha256').update(input.bytes).digest('hex'),
    createdAt: now,
    expiresAt: now + input.ttlMs,
  };
  world.media.set(media.id, media);
  return media;
}

/**
 * `POST /{phone-number-id}/media` (§10): the form's `messaging_product`, `file` and `type`
 * (the first and last may come in the query string instead, §1.4), checked against the MIME
 * types and size limits of §10, then stored for 30 days.
 */
export function uploadMedia(
  world: World,
  now: number,
  phoneNumberId: string,
  parts: Part[],
  query: { messaging_product?: string; type?: string },
): Media {
  const field = (name: string) => parts.find((p) => p.name === name);
  const product = field('messaging_product')?.data.toString() ?? query.messaging_product;
  if (product !== 'whatsapp')
    throw invalidParam('The parameter messaging_product is required and must be "whatsapp".');
  const file = field('file');
  if (!file || file.filename === undefined) throw missing('file');
  const mimeType = field('type')?.data.toString().trim() || query.type || file.contentType;
  if (!mimeType) throw missing('type');
  const limit = MEDIA_LIMITS[mimeType];
  if (limit === undefined)
    throw invalidParam(
      `Param file must be a file with one of the following types: ${Object.keys(MEDIA_LIMITS).join(', ')}. Received file of type '${mimeType}'.`,
    );
  if (file.data.length > limit)
    throw invalidParam(`File of type ${mimeType} must be at most ${limit} bytes.`);
  return storeMedia(world, now, {
    phoneNumberId,
    mimeType,
    bytes: Buffer.from(file.data),
    ttlMs: UPLOADED_MEDIA_TTL_MS,
  });
}

/** `GET /{media-id}` body with a fresh download URL under `base`, valid 5 minutes (§10). */
export function mediaInfo(world: World, now: number, base: string, media: Media): MediaInfo {
  const hash = randomBytes(16).toString('hex');
  world.mediaUrls.set(hash, { mediaId: media.id, expiresAt: now + MEDIA_URL_TTL_MS });
  const url = `${base}${MEDIA_DOWNLOAD_PATH}?mid=${media.id}&ext=${Math.floor(now / 1000)}&hash=${hash}`;
  return {
    messaging_product: 'whatsapp',
    url,
    mime_type: media.mimeType,
    sha256: media.sha256,
    file_size: String(media.bytes.length),
    id: media.id,
  };
}

/** §10: deletes media; its download links stop working with it. */
export function deleteMedia(world: World, mediaId: string): void {
  world.media.delete(mediaId);
}
