import {
  AppError,
  type SandboxTemplateQualityRequest,
  type SandboxTemplateQualityResponse,
  type SandboxTemplateStatusRequest,
  type TemplateStatusUpdateValue,
} from '@wapi/contracts';
import { GraphError, invalidParam } from './graph-error';
import { newObjectId } from './ids';
import { selectFields } from './phone-number-view';
import type { Clock, Scheduler, WebhookSink } from './ports';
import { placeholders } from './template-check';
import { checkSendTtl } from './ttl';
import type { Template, TemplateStatus, World } from './world';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const CATEGORIES = new Set(['MARKETING', 'UTILITY', 'AUTHENTICATION']);
/** §5.5: 250 templates per WABA for an unverified portfolio. */
export const TEMPLATE_CAP = 250;
/** §5.4: templates created per WABA per hour. */
export const CREATIONS_PER_HOUR = 100;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Validates a create payload (§7.2, §7.3) and stores the template as PENDING. */
export function createTemplate(world: World, wabaId: string, body: unknown, now: number): Template {
  if (!isObj(body)) throw invalidParam('The request body must be an object.');
  const name = body.name;
  if (typeof name !== 'string' || name.length === 0) throw invalidParam('The parameter name is required.');
  if (!/^[a-z0-9_]{1,512}$/.test(name))
    throw invalidParam(
      'Template name may contain only lowercase letters, digits and underscores (at most 512).',
    );
  const language = body.language;
  if (typeof language !== 'string' || language.length === 0)
    throw invalidParam('The parameter language is required.');
  const category = typeof body.category === 'string' ? body.category.toUpperCase() : '';
  if (!CATEGORIES.has(category))
    throw invalidParam('Param category must be one of MARKETING, UTILITY, AUTHENTICATION.');
  const format = body.parameter_format ?? 'positional';
  if (format !== 'named' && format !== 'positional')
    throw invalidParam('Param parameter_format must be named or positional.');
  const ttl = sendTtlOf(body, category);
  const components = checkComponents(body.components, format);

  const existing = [...world.templates.values()].filter((t) => t.wabaId === wabaId);
  if (existing.some((t) => t.name === name && t.language === language))
    throw new GraphError(100, `Content in this language already exists for ${name}.`, { subcode: 2388024 });
  if (existing.length >= TEMPLATE_CAP)
    throw new GraphError(100, 'The WhatsApp Business Account has reached its template limit.', {
      subcode: 2388019,
    });
  // §5.4: at most 100 templates created per WABA per hour. docs/meta-platform.md gives no code for it;
  // 80008 (§4, listed for message_templates) is the sandbox's choice.
  const waba = world.wabas.get(wabaId);
  if (waba) {
    waba.templateCreations = waba.templateCreations.filter((at) => now - at < HOUR_MS);
    if (waba.templateCreations.length >= CREATIONS_PER_HOUR)
      throw new GraphError(
        80008,
        'Too many templates created for this WhatsApp Business Account in the last hour (max 100).',
      );
    waba.templateCreations.push(now);
  }

  const template: Template = {
    id: newObjectId(),
    wabaId,
    name,
    language,
    category,
    status: 'PENDING',
    parameterFormat: format,
    components,
    createdAt: now,
    messageSendTtlSeconds: ttl,
    approvedEdits: [],
  };
  world.templates.set(template.id, template);
  return template;
}

/** §2.11 / §7.2 `message_send_ttl_seconds`, checked against the category's range. */
function sendTtlOf(body: Obj, category: string): number | undefined {
  const ttl = body.message_send_ttl_seconds;
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number') throw invalidParam('Param message_send_ttl_seconds must be an integer.');
  const problem = checkSendTtl(category, ttl);
  if (problem) throw invalidParam(problem);
  return ttl;
}

/** Validates the components of a create or edit (§7.2, §7.3). */
function checkComponents(
  components: unknown,
  format: 'named' | 'positional',
): Array<Record<string, unknown>> {
  if (!Array.isArray(components) || !components.every(isObj))
    throw invalidParam('The parameter components is required.');
  const bodyComponent = components.find((c) => String(c.type).toUpperCase() === 'BODY');
  if (!bodyComponent || typeof bodyComponent.text !== 'string')
    throw invalidParam('A BODY component with text is required.');
  if (bodyComponent.text.length > 1_024)
    throw new GraphError(100, 'Body text is too long.', { subcode: 2388040 });
  const names = placeholders(bodyComponent.text);
  if (format === 'positional' && names.some((n, i) => n !== String(i + 1)))
    throw new GraphError(100, 'Positional parameters must be {{1}}, {{2}}, … in order.', {
      subcode: 2388072,
    });
  if (format === 'named' && names.some((n) => !/^[a-z_][a-z0-9_]*$/.test(n) || /^\d/.test(n)))
    throw new GraphError(100, 'Named parameters must be lowercase letters, digits and underscores.', {
      subcode: 2388072,
    });
  const trimmed = bodyComponent.text.trim();
  if (/^\{\{[^}]+\}\}/.test(trimmed) || /\{\{[^}]+\}\}$/.test(trimmed))
    throw new GraphError(100, 'Parameters may not lead or trail the body text.', { subcode: 2388299 });
  const footer = components.find((c) => String(c.type).toUpperCase() === 'FOOTER');
  if (footer && (typeof footer.text !== 'string' || footer.text.length > 60))
    throw new GraphError(100, 'Footer text must be at most 60 characters.', { subcode: 2388073 });
  const header = components.find((c) => String(c.type).toUpperCase() === 'HEADER');
  if (header && String(header.format ?? '').toUpperCase() === 'TEXT' && String(header.text ?? '').length > 60)
    throw new GraphError(100, 'Header text must be at most 60 characters.', { subcode: 2388047 });
  return components.map((c) => ({ ...c, type: String(c.type).toUpperCase() }));
}

const EDITABLE = new Set<TemplateStatus>(['APPROVED', 'REJECTED', 'PAUSED']);

/**
 * `POST /{template-id}` (§7.1, §7.4): only APPROVED, REJECTED or PAUSED templates; only
 * category, components (replaced wholesale) and TTL; an approved template's category is fixed,
 * and it may be edited at most once per 24 h and 10 times per 30 days. The edit goes back to
 * review (PENDING). Meta's codes for these refusals are not documented (docs/meta-platform.md §7.4): code 100.
 */
export function editTemplate(template: Template, body: unknown, now: number): void {
  if (!isObj(body)) throw invalidParam('The request body must be an object.');
  const allowed = new Set(['category', 'components', 'message_send_ttl_seconds']);
  const unknown = Object.keys(body).filter((k) => !allowed.has(k));
  if (unknown.length > 0) throw invalidParam(`Param ${unknown.join(', ')} cannot be edited.`);
  if (Object.keys(body).length === 0)
    throw invalidParam('Nothing to edit: pass category, components or message_send_ttl_seconds.');
  if (!EDITABLE.has(template.status))
    throw invalidParam(`A template in status ${template.status} cannot be edited.`);
  let category = template.category;
  if (body.category !== undefined) {
    const next = typeof body.category === 'string' ? body.category.toUpperCase() : '';
    if (!CATEGORIES.has(next))
      throw invalidParam('Param category must be one of MARKETING, UTILITY, AUTHENTICATION.');
    if (template.status === 'APPROVED' && next !== template.category)
      throw invalidParam('The category of an approved template cannot be edited.');
    category = next;
  }
  const components =
    body.components === undefined ? undefined : checkComponents(body.components, template.parameterFormat);
  const ttl =
    body.message_send_ttl_seconds === undefined ? template.messageSendTtlSeconds : sendTtlOf(body, category);
  if (template.status === 'APPROVED') {
    const recent = template.approvedEdits.filter((at) => now - at < 30 * DAY_MS);
    if (recent.some((at) => now - at < DAY_MS))
      throw invalidParam('An approved template can be edited once per 24 hours.');
    if (recent.length >= 10) throw invalidParam('An approved template can be edited 10 times per 30 days.');
    template.approvedEdits = [...recent, now];
  }
  template.category = category;
  if (components) template.components = components;
  template.messageSendTtlSeconds = ttl;
  template.status = 'PENDING';
}

/** Review outcome after the configured delay: names starting with `reject` are rejected (sandbox rule). */
export function reviewOutcome(template: Template): { status: TemplateStatus; reason: string | null } {
  return template.name.startsWith('reject')
    ? { status: 'REJECTED', reason: 'INVALID_FORMAT' }
    : { status: 'APPROVED', reason: null };
}

/** §7.4: what a pause or unpause means, as `other_info` of the status webhook (§3.7). */
const OTHER_INFO = {
  FIRST_PAUSE: 'The template was paused for 3 hours because of low quality.',
  SECOND_PAUSE: 'The template was paused for 6 hours because of low quality.',
  UNPAUSE: 'The template was unpaused and can be sent again.',
} as const;

/**
 * `message_template_status_update` value (§3.7) for the template's current status. Meta
 * writes `reason: "NONE"` when there is no reason; a pause carries `other_info` (FIRST_PAUSE,
 * SECOND_PAUSE, §7.4) and a disabled template `disable_info` with the time it was disabled.
 */
export function statusUpdate(
  template: Template,
  reason: string | null,
  options: { now?: number; unpaused?: boolean } = {},
): TemplateStatusUpdateValue {
  const value: TemplateStatusUpdateValue = {
    event: template.status,
    message_template_id: Number(template.id),
    message_template_name: template.name,
    message_template_language: template.language,
    reason: reason ?? 'NONE',
    message_template_category: template.category,
  };
  const title = options.unpaused
    ? 'UNPAUSE'
    : template.status === 'PAUSED'
      ? (template.pauses ?? 0) > 1
        ? 'SECOND_PAUSE'
        : 'FIRST_PAUSE'
      : undefined;
  if (title) value.other_info = { title, description: OTHER_INFO[title] };
  if (template.status === 'DISABLED' && options.now !== undefined)
    value.disable_info = { disable_date: Math.floor(options.now / 1_000) };
  return value;
}

export interface TemplateEventDeps {
  world: World;
  clock: Clock;
  webhooks: WebhookSink;
}

function templateOf(world: World, id: string): Template {
  const template = world.templates.get(id);
  if (!template)
    throw new AppError(
      'ROUTE_NOT_FOUND',
      `No template ${id}; list them with GET /{waba-id}/message_templates.`,
    );
  return template;
}

/**
 * Moves a template to any status (Meta's review, a quality pause, a disable…) and sends its
 * `message_template_status_update` (§7.4, §3.7). A PAUSED counts as the template's next pause.
 */
export function setTemplateStatus(
  deps: TemplateEventDeps,
  id: string,
  input: SandboxTemplateStatusRequest,
): { id: string; status: TemplateStatus } {
  const template = templateOf(deps.world, id);
  template.status = input.status;
  if (input.status === 'PAUSED') template.pauses = (template.pauses ?? 0) + 1;
  deps.webhooks.toWaba(template.wabaId, 'message_template_status_update', {
    ...statusUpdate(template, input.reason ?? null, { now: deps.clock.now() }),
  });
  return { id: template.id, status: template.status };
}

/** §7.1: the manual unpause of a template paused for quality (§7.4) → APPROVED, UNPAUSE webhook. */
export function unpauseTemplate(deps: { webhooks: WebhookSink }, template: Template): void {
  if (template.status !== 'PAUSED')
    throw invalidParam(`Only a paused template can be unpaused; this one is ${template.status}.`);
  template.status = 'APPROVED';
  deps.webhooks.toWaba(template.wabaId, 'message_template_status_update', {
    ...statusUpdate(template, null, { unpaused: true }),
  });
}

/**
 * A template's quality score changes (§3.7 `message_template_quality_update`, §7.4): the
 * webhook names the previous and the new score.
 */
export function setTemplateQuality(
  deps: TemplateEventDeps,
  id: string,
  input: SandboxTemplateQualityRequest,
): SandboxTemplateQualityResponse {
  const template = templateOf(deps.world, id);
  const previous = template.quality ?? 'UNKNOWN';
  template.quality = input.quality;
  deps.webhooks.toWaba(template.wabaId, 'message_template_quality_update', {
    previous_quality_score: previous,
    new_quality_score: input.quality,
    message_template_id: Number(template.id),
    message_template_name: template.name,
    message_template_language: template.language,
  });
  return { id: template.id, previousQuality: previous, quality: input.quality };
}

/** Decides PENDING templates after the configured review delay (§7.4). */
export interface TemplateReview {
  /** PENDING → APPROVED/REJECTED after the delay, with a status webhook (§3.7). */
  schedule(template: Template): void;
}

export function createTemplateReview(deps: {
  world: World;
  scheduler: Scheduler;
  webhooks: WebhookSink;
  delayMs: number;
}): TemplateReview {
  return {
    schedule(template) {
      deps.scheduler.later(deps.delayMs, () => {
        // Deleted, edited again or moved by the control API meanwhile: nothing to decide.
        if (deps.world.templates.get(template.id) !== template || template.status !== 'PENDING') return;
        const outcome = reviewOutcome(template);
        template.status = outcome.status;
        deps.webhooks.toWaba(template.wabaId, 'message_template_status_update', {
          ...statusUpdate(template, outcome.reason),
        });
      });
    },
  };
}

/**
 * `GET /{waba-id}/message_templates` (§7.1): filtered by `name` and `status`, `limit` per page
 * (1–1000, default 25) with Graph's base64 cursors, each narrowed by `fields=`.
 */
export function listTemplates(
  world: World,
  wabaId: string,
  query: { name?: string; status?: string; limit?: string; after?: string; fields?: string },
): {
  data: Array<Record<string, unknown> & { id: string }>;
  paging?: { cursors: { before: string; after: string } };
} {
  const { name, status } = query;
  const limit = query.limit === undefined ? 25 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
    throw invalidParam('Param limit must be 1-1000.');
  const all = [...world.templates.values()]
    .filter((t) => t.wabaId === wabaId)
    .filter((t) => name === undefined || t.name === name)
    .filter((t) => status === undefined || t.status === status.toUpperCase());
  const start = query.after ? Number(Buffer.from(query.after, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalidParam('Param after is not a valid cursor.');
  const page = all.slice(start, start + limit);
  const cursor = (n: number) => Buffer.from(String(n)).toString('base64url');
  return {
    // §7.1: `fields=name,category,status` narrows each listed template.
    data: page.map((t) => selectFields(templateView(t), query.fields)),
    ...(page.length > 0
      ? { paging: { cursors: { before: cursor(start), after: cursor(start + page.length) } } }
      : {}),
  };
}

/**
 * `DELETE /{waba-id}/message_templates` (§7.1): `name` deletes every language of that name,
 * with `hsmId` only that one; a DISABLED template cannot be deleted (§7.4).
 */
export function deleteTemplates(
  world: World,
  wabaId: string,
  name: string | undefined,
  hsmId: string | undefined,
): void {
  if (!name) throw invalidParam('The parameter name is required.');
  const targets = [...world.templates.values()].filter(
    (t) => t.wabaId === wabaId && t.name === name && (hsmId === undefined || t.id === hsmId),
  );
  if (targets.length === 0)
    throw new GraphError(100, `Template ${name} was not found.`, { subcode: 2593002 });
  if (targets.some((t) => t.status === 'DISABLED'))
    throw invalidParam('A disabled template cannot be deleted.');
  for (const t of targets) world.templates.delete(t.id);
}

/** A template as Graph lists it (§7.1). */
export function templateView(template: Template) {
  return {
    id: template.id,
    name: template.name,
    language: template.language,
    status: template.status,
    category: template.category,
    parameter_format: template.parameterFormat.toUpperCase(),
    components: template.components,
    ...(template.messageSendTtlSeconds !== undefined
      ? { message_send_ttl_seconds: template.messageSendTtlSeconds }
      : {}),
  };
}
