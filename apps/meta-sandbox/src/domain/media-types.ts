const MB = 1024 * 1024;

/** Supported upload types and their maximum sizes (§10). */
export const MEDIA_LIMITS: Record<string, number> = {
  'audio/aac': 16 * MB,
  'audio/amr': 16 * MB,
  'audio/mpeg': 16 * MB,
  'audio/mp4': 16 * MB,
  'audio/ogg': 16 * MB,
  'text/plain': 100 * MB,
  'application/pdf': 100 * MB,
  'application/msword': 100 * MB,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 100 * MB,
  'application/vnd.ms-excel': 100 * MB,
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 100 * MB,
  'application/vnd.ms-powerpoint': 100 * MB,
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 100 * MB,
  'image/jpeg': 5 * MB,
  'image/png': 5 * MB,
  // Stickers: 500 KB animated, 100 KB static; the sandbox cannot tell them apart, so it allows 500 KB.
  'image/webp': 500 * 1024,
  'video/mp4': 16 * MB,
  'video/3gpp': 16 * MB,
};

/** §10: URLs from `GET /{media-id}` are valid 5 minutes. */
export const MEDIA_URL_TTL_MS = 5 * 60_000;
/** §10: uploaded media ids live 30 days; ids from inbound webhooks 7 days. */
export const UPLOADED_MEDIA_TTL_MS = 30 * 86_400_000;
export const INBOUND_MEDIA_TTL_MS = 7 * 86_400_000;
/** §10: media a user sends is at most 100 MB; larger → inbound webhook error 131052. */
export const INBOUND_MEDIA_MAX_BYTES = 100 * MB;
