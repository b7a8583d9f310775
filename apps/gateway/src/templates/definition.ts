import { AppError, type MessageCategory, type SendContent } from '@wapi/contracts';

/**
 * What a stored template expects of a send, derived once from its components when it is
 * stored (docs/meta-platform.md §2.7, §7.3): the body's placeholders, the header's kind and
 * placeholder, and the buttons that need a value. Pure: no I/O.
 */
export interface TemplateExpectations {
  format: 'positional' | 'named';
  /** Placeholders of the body, in order of first appearance (`['1','2']` or `['first_name']`). */
  body: string[];
  /** `text` with its placeholders, a media/location kind needing one parameter, or none. */
  header:
    | { kind: 'text'; placeholders: string[] }
    | { kind: 'image' | 'video' | 'document' | 'location' }
    | null;
  /** Button indexes whose send must carry a parameter (URL buttons with a placeholder, copy code). */
  buttons: { index: number; subType: 'url' | 'copy_code' }[];
}

/** A component as Meta stores it (`type`, `format`, `text`, `buttons`, ...). */
export interface StoredComponent {
  type: string;
  format?: string | undefined;
  text?: string | undefined;
  buttons?: Record<string, unknown>[] | undefined;
  [key: string]: unknown;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

const placeholders = (text: string | undefined): string[] => [
  ...new Set([...(text ?? '').matchAll(PLACEHOLDER)].map((m) => m[1] as string)),
];

/** Derives what sends of a template must carry from its stored components. */
export function expectationsOf(
  components: StoredComponent[],
  parameterFormat: string | undefined,
): TemplateExpectations {
  const body = placeholders(components.find((c) => c.type.toUpperCase() === 'BODY')?.text);
  const headerComponent = components.find((c) => c.type.toUpperCase() === 'HEADER');
  const format = (headerComponent?.format ?? 'TEXT').toUpperCase();
  let header: TemplateExpectations['header'] = null;
  if (headerComponent) {
    if (format === 'TEXT') {
      const names = placeholders(headerComponent.text);
      header = names.length > 0 ? { kind: 'text', placeholders: names } : null;
    } else if (format === 'IMAGE' || format === 'VIDEO' || format === 'DOCUMENT' || format === 'LOCATION') {
      header = { kind: format.toLowerCase() as 'image' };
    }
  }
  const buttons: TemplateExpectations['buttons'] = [];
  const buttonList = components.find((c) => c.type.toUpperCase() === 'BUTTONS')?.buttons ?? [];
  buttonList.forEach((b, index) => {
    const type = String(b.type ?? '').toUpperCase();
    if (type === 'URL' && placeholders(String(b.url ?? '')).length > 0)
      buttons.push({ index, subType: 'url' });
    if (type === 'COPY_CODE') buttons.push({ index, subType: 'copy_code' });
  });
  const named =
    parameterFormat?.toLowerCase() === 'named' ||
    [...body, ...(header?.kind === 'text' ? header.placeholders : [])].some((p) => !/^[0-9]+$/.test(p));
  return { format: named ? 'named' : 'positional', body, header, buttons };
}

/** Meta's category (`MARKETING`, ...) as the message category the rest of wapi uses. */
export function categoryOf(metaCategory: string): MessageCategory {
  const c = metaCategory.toLowerCase();
  return c === 'utility' || c === 'authentication' ? c : 'marketing';
}

type TemplateContent = Extract<SendContent, { type: 'template' }>['template'];
type SendComponent = NonNullable<TemplateContent['components']>[number];

const invalid = (why: string) =>
  new AppError(
    'TEMPLATE_PARAMETERS_INVALID',
    `${why}; send the parameters the template's stored definition has (GET /api/v1/templates?name=).`,
  );

function checkTextParameters(
  where: string,
  expected: string[],
  format: TemplateExpectations['format'],
  parameters: { parameter_name?: string | undefined }[],
): void {
  if (format === 'positional') {
    if (parameters.some((p) => p.parameter_name !== undefined))
      throw invalid(`The ${where} takes positional parameters, not parameter_name`);
    if (parameters.length !== expected.length)
      throw invalid(`The ${where} takes ${expected.length} parameter(s), ${parameters.length} given`);
    return;
  }
  const given = parameters.map((p) => p.parameter_name);
  if (given.some((n) => n === undefined))
    throw invalid(`The ${where} takes named parameters: give each a parameter_name`);
  const missing = expected.filter((n) => !given.includes(n));
  const unknown = given.filter((n) => !expected.includes(n as string));
  if (missing.length > 0 || unknown.length > 0 || given.length !== expected.length) {
    throw invalid(
      `The ${where} takes the named parameters ${expected.join(', ') || '(none)'}${
        missing.length ? `; missing ${missing.join(', ')}` : ''
      }${unknown.length ? `; unknown ${unknown.join(', ')}` : ''}`,
    );
  }
}

/**
 * Checks a template send's parameters against what the stored template expects; throws
 * TEMPLATE_PARAMETERS_INVALID naming the component. Quick-reply payloads are optional (Meta
 * has a default), so only the buttons that need a value are required.
 */
export function assertParameters(expect: TemplateExpectations, template: TemplateContent): void {
  const components: SendComponent[] = template.components ?? [];
  const body = components.filter((c) => c.type === 'body');
  if (body.length > 1) throw invalid('Give the body component once');
  checkTextParameters('body', expect.body, expect.format, body[0]?.parameters ?? []);

  const headers = components.filter((c) => c.type === 'header');
  if (headers.length > 1) throw invalid('Give the header component once');
  const header = headers[0];
  if (!expect.header) {
    if (header) throw invalid('The template has no header parameter');
  } else if (!header) {
    throw invalid(`The template's header needs a ${expect.header.kind} parameter`);
  } else if (expect.header.kind === 'text') {
    const params = header.parameters.filter((p) => p.type === 'text');
    if (params.length !== header.parameters.length) throw invalid('The header takes a text parameter');
    checkTextParameters('header', expect.header.placeholders, expect.format, params);
  } else if (header.parameters[0]?.type !== expect.header.kind) {
    throw invalid(`The header takes a ${expect.header.kind} parameter`);
  }

  const buttons = components.filter((c) => c.type === 'button');
  for (const need of expect.buttons) {
    const given = buttons.find((b) => Number(b.index) === need.index);
    if (!given || given.sub_type !== need.subType)
      throw invalid(`Button ${need.index} (${need.subType}) needs its parameter`);
  }
}
