import { GraphError, invalid, missing } from './graph-error';
import type { Template, World } from './world';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{{1}}` / `{{first_name}}` placeholders of a template text, in order of appearance. */
export function placeholders(text: string | undefined): string[] {
  if (!text) return [];
  return [...text.matchAll(/\{\{\s*([a-z0-9_]+)\s*\}\}/g)].map((m) => m[1] ?? '');
}

const componentOf = (template: Template, type: string) =>
  template.components.find((c) => String(c.type).toLowerCase() === type);

const MEDIA_FORMATS = new Set(['image', 'video', 'document']);

/**
 * Finds the template a send names and checks its parameters (§2.7, §7, §12):
 * unknown name/language or not approved → 132001 (HTTP 404); paused → 132015; disabled → 132016;
 * parameter count → 132000; parameter format → 132012.
 */
export function checkTemplateSend(world: World, wabaId: string, content: Obj): Template {
  const name = String(content.name);
  const language = String((content.language as Obj).code);
  const template = [...world.templates.values()].find(
    (t) => t.wabaId === wabaId && t.name === name && t.language === language,
  );
  if (!template || template.status === 'PENDING' || template.status === 'REJECTED')
    throw new GraphError(132001, `template name (${name}) does not exist in ${language}`);
  if (template.status === 'PAUSED') throw new GraphError(132015, `Template ${name} is paused.`);
  if (template.status === 'DISABLED') throw new GraphError(132016, `Template ${name} is disabled.`);

  const sent = Array.isArray(content.components) ? content.components : [];
  const sentOf = (type: string) =>
    sent.find((c): c is Obj => isObj(c) && String(c.type).toLowerCase() === type && type !== 'button');

  // Header: media header needs one media parameter of the template's format; text header its variables.
  const header = componentOf(template, 'header');
  const headerSent = sentOf('header');
  if (header) {
    const format = String(header.format ?? 'text').toLowerCase();
    const params = Array.isArray(headerSent?.parameters) ? headerSent.parameters : [];
    if (MEDIA_FORMATS.has(format)) {
      if (params.length !== 1)
        throw new GraphError(
          132000,
          `header: number of parameters (${params.length}) does not match the expected number of params (1)`,
        );
      const param = params[0];
      if (!isObj(param) || param.type !== format || !isObj(param[format]))
        throw new GraphError(
          132012,
          `header: Format mismatch, expected ${format.toUpperCase()}, received ${isObj(param) ? String(param.type).toUpperCase() : 'UNKNOWN'}`,
        );
      const media = param[format] as Obj;
      if (media.id === undefined && media.link === undefined) throw missing(`header.${format}.id or link`);
    } else {
      checkTextParams(template, 'header', placeholders(header.text as string | undefined), params);
    }
  } else if (headerSent) {
    throw new GraphError(132000, 'header: the template has no header but parameters were given');
  }

  const body = componentOf(template, 'body');
  const bodySent = sentOf('body');
  checkTextParams(
    template,
    'body',
    placeholders(body?.text as string | undefined),
    Array.isArray(bodySent?.parameters) ? bodySent.parameters : [],
  );

  checkButtons(template, sent);
  return template;
}

function checkTextParams(template: Template, where: string, expected: string[], params: unknown[]): void {
  if (params.length !== expected.length)
    throw new GraphError(
      132000,
      `${where}: number of localizable_params (${params.length}) does not match the expected number of params (${expected.length})`,
    );
  const seen = new Set<string>();
  params.forEach((param, n) => {
    if (!isObj(param)) throw invalid(`${where}.parameters[${n}]`, 'must be an object');
    const type = param.type;
    if (type !== 'text' && type !== 'currency' && type !== 'date_time')
      throw new GraphError(132012, `${where}: parameter ${n + 1} has type ${String(type)}; expected TEXT`);
    if (type === 'text') {
      if (typeof param.text !== 'string' || param.text.length === 0)
        throw missing(`${where}.parameters[${n}].text`);
      // Meta rejects new lines, tabs and runs of more than 4 spaces inside body parameters.
      if (/[\n\t]| {5,}/.test(param.text))
        throw new GraphError(
          132012,
          'Param text cannot have new-line/tab characters or more than 4 consecutive spaces',
        );
    }
    // Named templates (§2.7): every value names its placeholder, in any order.
    if (template.parameterFormat === 'named') {
      const name = param.parameter_name;
      if (typeof name !== 'string')
        throw new GraphError(
          132012,
          `${where}: parameter ${n + 1} lacks parameter_name; the template uses named parameters`,
        );
      if (!expected.includes(name) || seen.has(name))
        throw new GraphError(132012, `${where}: parameter_name ${name} does not match the template`);
      seen.add(name);
    } else if (param.parameter_name !== undefined) {
      throw new GraphError(
        132012,
        `${where}: the template uses positional parameters; remove parameter_name`,
      );
    }
  });
}

/** Button components (§2.7): dynamic URL buttons need their suffix; quick replies may carry a payload. */
function checkButtons(template: Template, sent: unknown[]): void {
  const buttons = (componentOf(template, 'buttons')?.buttons as Obj[] | undefined) ?? [];
  const given = new Map<number, Obj>();
  for (const c of sent) {
    if (!isObj(c) || String(c.type).toLowerCase() !== 'button') continue;
    const index = Number(c.index);
    const button = buttons[index];
    if (!Number.isInteger(index) || !button)
      throw invalid('button.index', `no button at index ${String(c.index)}`);
    const subType = String(c.sub_type ?? '').toLowerCase();
    if (subType !== String(button.type).toLowerCase())
      throw invalid('button.sub_type', `button ${index} is of type ${String(button.type)}`);
    given.set(index, c);
  }
  buttons.forEach((button, index) => {
    if (String(button.type).toLowerCase() === 'url' && placeholders(button.url as string).length > 0) {
      const params = given.get(index)?.parameters;
      if (!Array.isArray(params) || params.length !== 1)
        throw missing(`button at index ${index} of type Url requires a parameter`);
    }
  });
}
