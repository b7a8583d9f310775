import { it } from 'vitest';
import { useTestContext } from '../src/context';
import { writeMeetAndCheck } from './isolation-shared';

const ctx = useTestContext('iso_a');

it('sees only its own database and keys while file b writes the same names at the same time', async () => {
  await writeMeetAndCheck(ctx, 'a');
});
