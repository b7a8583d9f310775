import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type {
  AccessTokenResponse,
  CreateTemplateRequest,
  CreateTemplateResponse,
  DebugTokenResponse,
  EditTemplateRequest,
  GraphErrorBody,
  GraphSuccess,
  MediaInfo,
  MediaUploadResponse,
  MessageTemplate,
  PhoneNumberInfo,
  PhoneNumberList,
  SendMessageRequest,
  SendMessageResponse,
  SubscribedAppsList,
  TemplateList,
  UpdatePhoneNumberRequest,
  WabaInfo,
} from '@wapi/contracts';
import { MetaApiError } from './meta-api-error';

export interface MetaClientOptions {
  /** `https://graph.facebook.com` in production; the sandbox's URL in tests and the embedded default. */
  baseUrl: string;
  /** Graph version, e.g. `v23.0` (reference §1.1: always send one). */
  version: string;
  /** Sockets kept open per host (keep-alive pooling). */
  maxSockets?: number;
  /**
   * Reuse connections between calls (default `true`). `false` opens one TCP (and TLS)
   * connection per call: only for diagnosing a misbehaving proxy.
   */
  keepAlive?: boolean;
  timeoutMs?: number;
}

type Query = Record<string, string | number | undefined>;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Typed Graph client for the WhatsApp Cloud API. One instance per process: it pools
 * keep-alive connections; the access token is passed per call (one per tenant, §11).
 */
export function createMetaClient(options: MetaClientOptions) {
  const base = new URL(options.baseUrl);
  const secure = base.protocol === 'https:';
  const agentOptions = {
    keepAlive: options.keepAlive ?? true,
    maxSockets: options.maxSockets ?? 64,
    keepAliveMsecs: 30_000,
  };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const timeoutMs = options.timeoutMs ?? 20_000;

  function raw(
    method: string,
    path: string,
    token: string | undefined,
    query: Query = {},
    body?: { contentType: string; data: Buffer },
  ): Promise<RawResponse> {
    const url = new URL(path, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body) {
      headers['content-type'] = body.contentType;
      headers['content-length'] = String(body.data.length);
    }
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`Graph call timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      if (body) req.write(body.data);
      req.end();
    });
  }

  async function call<T>(
    method: string,
    path: string,
    token: string | undefined,
    query?: Query,
    json?: unknown,
  ): Promise<T> {
    const response = await raw(
      method,
      `/${options.version}/${path}`,
      token,
      query,
      json === undefined
        ? undefined
        : { contentType: 'application/json', data: Buffer.from(JSON.stringify(json)) },
    );
    const text = response.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status >= 200 && response.status < 300) return parsed as T;
    const envelope =
      parsed && typeof parsed === 'object' && 'error' in parsed ? (parsed as GraphErrorBody) : undefined;
    throw new MetaApiError(response.status, envelope, `Graph answered HTTP ${response.status}`);
  }

  return {
    /** `POST /{phone-number-id}/messages` (§2). */
    sendMessage: (
      token: string,
      phoneNumberId: string,
      message: Omit<SendMessageRequest, 'messaging_product'>,
    ) =>
      call<SendMessageResponse>(
        'POST',
        `${phoneNumberId}/messages`,
        token,
        {},
        { messaging_product: 'whatsapp', ...message },
      ),
    /** Mark an inbound message (and earlier ones) read, optionally showing a typing indicator (§2.10). */
    markRead: (token: string, phoneNumberId: string, messageId: string, typing = false) =>
      call<GraphSuccess>(
        'POST',
        `${phoneNumberId}/messages`,
        token,
        {},
        {
          messaging_product: 'whatsapp',
          status: 'read',
          message_id: messageId,
          ...(typing ? { typing_indicator: { type: 'text' } } : {}),
        },
      ),
    /** `POST /{phone-number-id}/media` (§10). */
    async uploadMedia(
      token: string,
      phoneNumberId: string,
      file: { bytes: Buffer; mimeType: string; filename: string },
    ) {
      const boundary = `----wapi${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
      const part = (headers: string, data: Buffer | string) =>
        Buffer.concat([
          Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`),
          Buffer.from(data),
          Buffer.from('\r\n'),
        ]);
      const data = Buffer.concat([
        part('Content-Disposition: form-data; name="messaging_product"', 'whatsapp'),
        part('Content-Disposition: form-data; name="type"', file.mimeType),
        part(
          `Content-Disposition: form-data; name="file"; filename="${file.filename.replace(/"/g, '')}"\r\nContent-Type: ${file.mimeType}`,
          file.bytes,
        ),
        Buffer.from(`--${boundary}--\r\n`),
      ]);
      const response = await raw(
        'POST',
        `/${options.version}/${phoneNumberId}/media`,
        token,
        {},
        {
          contentType: `multipart/form-data; boundary=${boundary}`,
          data,
        },
      );
      const parsed = JSON.parse(response.body.toString('utf8') || '{}') as
        | MediaUploadResponse
        | GraphErrorBody;
      if (response.status === 200 && 'id' in parsed) return parsed;
      throw new MetaApiError(
        response.status,
        'error' in parsed ? parsed : undefined,
        `Graph answered HTTP ${response.status}`,
      );
    },
    /** `GET /{media-id}`: a URL valid 5 minutes (§10). */
    getMedia: (token: string, mediaId: string, phoneNumberId?: string) =>
      call<MediaInfo>('GET', mediaId, token, { phone_number_id: phoneNumberId }),
    /** Downloads a media URL with the bearer token (§10); 404 means: fetch a new URL. */
    async downloadMedia(token: string, url: string): Promise<{ bytes: Buffer; mimeType: string }> {
      const target = new URL(url);
      const response = await raw('GET', target.pathname + target.search, token);
      if (response.status !== 200) {
        let envelope: GraphErrorBody | undefined;
        try {
          envelope = JSON.parse(response.body.toString('utf8')) as GraphErrorBody;
        } catch {
          envelope = undefined;
        }
        throw new MetaApiError(response.status, envelope, `media download answered HTTP ${response.status}`);
      }
      return { bytes: response.body, mimeType: String(response.headers['content-type'] ?? '') };
    },
    deleteMedia: (token: string, mediaId: string) => call<GraphSuccess>('DELETE', mediaId, token),
    /** `GET /{waba-id}/message_templates` (§7.1). */
    listTemplates: (
      token: string,
      wabaId: string,
      filter: { name?: string; status?: string; limit?: number; after?: string } = {},
    ) => call<TemplateList>('GET', `${wabaId}/message_templates`, token, filter),
    createTemplate: (token: string, wabaId: string, template: CreateTemplateRequest) =>
      call<CreateTemplateResponse>('POST', `${wabaId}/message_templates`, token, {}, template),
    getTemplate: (token: string, templateId: string) => call<MessageTemplate>('GET', templateId, token),
    /** `POST /{template-id}`: edit; the template goes back to review (§7.1, §7.4). */
    editTemplate: (token: string, templateId: string, edit: EditTemplateRequest) =>
      call<GraphSuccess>('POST', templateId, token, {}, edit),
    /** `POST /{template-id}/unpause`: manual unpause of a paused template (§7.1). */
    unpauseTemplate: (token: string, templateId: string) =>
      call<GraphSuccess>('POST', `${templateId}/unpause`, token),
    /** Deletes every language of `name`, or one template with `hsmId` (§7.1). */
    deleteTemplate: (token: string, wabaId: string, name: string, hsmId?: string) =>
      call<GraphSuccess>('DELETE', `${wabaId}/message_templates`, token, { name, hsm_id: hsmId }),
    /** Embedded Signup code exchange (§8.1 step 3): server-side only. */
    exchangeCode: (appId: string, appSecret: string, code: string) =>
      call<AccessTokenResponse>('GET', 'oauth/access_token', undefined, {
        client_id: appId,
        client_secret: appSecret,
        code,
      }),
    debugToken: (token: string, inputToken: string) =>
      call<DebugTokenResponse>('GET', 'debug_token', token, { input_token: inputToken }),
    /** Subscribes the calling app to the WABA, optionally with an override callback (§8.2, §8.3). */
    subscribeApp: (token: string, wabaId: string, override?: { callbackUri: string; verifyToken: string }) =>
      call<GraphSuccess>(
        'POST',
        `${wabaId}/subscribed_apps`,
        token,
        {},
        override ? { override_callback_uri: override.callbackUri, verify_token: override.verifyToken } : {},
      ),
    listSubscribedApps: (token: string, wabaId: string) =>
      call<SubscribedAppsList>('GET', `${wabaId}/subscribed_apps`, token),
    unsubscribeApp: (token: string, wabaId: string) =>
      call<GraphSuccess>('DELETE', `${wabaId}/subscribed_apps`, token),
    /** `POST /{phone-number-id}/register` with the 6-digit PIN (§8.4). */
    registerNumber: (token: string, phoneNumberId: string, pin: string) =>
      call<GraphSuccess>(
        'POST',
        `${phoneNumberId}/register`,
        token,
        {},
        { messaging_product: 'whatsapp', pin },
      ),
    /** `POST /{phone-number-id}/deregister` (§8.4); counts toward the 10 calls / 72 h (133016). */
    deregisterNumber: (token: string, phoneNumberId: string) =>
      call<GraphSuccess>('POST', `${phoneNumberId}/deregister`, token),
    /**
     * `POST /{phone-number-id}`: either the number-level callback override (§8.3; Meta verifies
     * it with a GET challenge, precedence phone → WABA → app) or the two-step PIN (§8.4).
     */
    updatePhoneNumber: (token: string, phoneNumberId: string, update: UpdatePhoneNumberRequest) =>
      call<GraphSuccess>('POST', phoneNumberId, token, {}, update),
    /** `GET /{waba-id}` (§7.1: `message_template_namespace`); a management call (§5.4). */
    getWaba: (
      token: string,
      wabaId: string,
      fields: string[] = ['id', 'name', 'message_template_namespace'],
    ) => call<WabaInfo>('GET', wabaId, token, { fields: fields.join(',') }),
    listPhoneNumbers: (token: string, wabaId: string, fields?: string[]) =>
      call<PhoneNumberList>('GET', `${wabaId}/phone_numbers`, token, { fields: fields?.join(',') }),
    /** `GET /{phone-number-id}` (§8.5): display number, verified name, quality, limit tier, throughput. */
    getPhoneNumber: (
      token: string,
      phoneNumberId: string,
      fields: string[] = [
        'display_phone_number',
        'verified_name',
        'quality_rating',
        'whatsapp_business_manager_messaging_limit',
        'throughput',
        'status',
      ],
    ) => call<PhoneNumberInfo>('GET', phoneNumberId, token, { fields: fields.join(',') }),
    /** Closes pooled sockets. */
    close: () => agent.destroy(),
  };
}

export type MetaClient = ReturnType<typeof createMetaClient>;
