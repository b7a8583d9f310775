import type { TemplateStatusUpdateValue } from '@wapi/contracts';
import { GraphError, invalidParam } from './graph-error';
import { newObjectId } from './ids';
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

/** `message_template_status_update` value (§3.7). */
export function statusUpdate(template: Template, reason: string | null): TemplateStatusUpdateValue {
  return {
    event: template.status,
    message_template_id: Number(template.id),
    message_template_name: template.name,
    message_template_language: template.language,
    reason,
    message_template_category: template.category,
  };
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
