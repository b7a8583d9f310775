import { AppError } from '@wapi/contracts';
import { describe, expect, it } from 'vitest';
import { assertParameters, categoryOf, expectationsOf } from './definition';

const text = (t: string, name?: string) => ({
  type: 'text' as const,
  text: t,
  ...(name ? { parameter_name: name } : {}),
});
const codeOf = (f: () => void) => {
  try {
    f();
    return 'ok';
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
};

describe('template expectations', () => {
  it('derives body, header and button parameters from the stored components', () => {
    const e = expectationsOf(
      [
        { type: 'HEADER', format: 'IMAGE' },
        { type: 'BODY', text: 'Order {{1}} ships {{2}}; again {{1}}.' },
        {
          type: 'BUTTONS',
          buttons: [
            { type: 'QUICK_REPLY', text: 'Stop' },
            { type: 'URL', url: 'https://x.example/{{1}}' },
          ],
        },
      ],
      'POSITIONAL',
    );
    expect(e).toEqual({
      format: 'positional',
      body: ['1', '2'],
      header: { kind: 'image' },
      buttons: [{ index: 1, subType: 'url' }],
    });
    expect(expectationsOf([{ type: 'BODY', text: 'Hi {{first_name}}' }], undefined).format).toBe('named');
    expect(categoryOf('AUTHENTICATION')).toBe('authentication');
    expect(categoryOf('SOMETHING_NEW')).toBe('marketing');
  });

  it('accepts exactly the parameters the definition expects', () => {
    const positional = expectationsOf([{ type: 'BODY', text: 'Order {{1}} is {{2}}.' }], 'positional');
    const send = (parameters: ReturnType<typeof text>[]) => () =>
      assertParameters(positional, { name: 'x', language: 'en', components: [{ type: 'body', parameters }] });
    expect(codeOf(send([text('1'), text('2')]))).toBe('ok');
    expect(codeOf(send([text('1')]))).toBe('TEMPLATE_PARAMETERS_INVALID');
    expect(codeOf(send([text('1'), text('2', 'named')]))).toBe('TEMPLATE_PARAMETERS_INVALID');
    const named = expectationsOf([{ type: 'BODY', text: 'Hi {{a}} and {{b}}.' }], 'named');
    const sendNamed = (parameters: ReturnType<typeof text>[]) => () =>
      assertParameters(named, { name: 'x', language: 'en', components: [{ type: 'body', parameters }] });
    expect(codeOf(sendNamed([text('2', 'b'), text('1', 'a')]))).toBe('ok');
    expect(codeOf(sendNamed([text('1', 'a'), text('2', 'c')]))).toBe('TEMPLATE_PARAMETERS_INVALID');
    const withUrl = expectationsOf(
      [
        { type: 'BODY', text: 'Track it.' },
        { type: 'BUTTONS', buttons: [{ type: 'URL', url: 'https://t.example/{{1}}' }] },
      ],
      'positional',
    );
    expect(codeOf(() => assertParameters(withUrl, { name: 'x', language: 'en' }))).toBe(
      'TEMPLATE_PARAMETERS_INVALID',
    );
    expect(
      codeOf(() =>
        assertParameters(withUrl, {
          name: 'x',
          language: 'en',
          components: [
            { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'abc' }] },
          ],
        }),
      ),
    ).toBe('ok');
  });
});
