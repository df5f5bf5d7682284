import { describe, expect, it } from 'vitest';
import { readDemoDayFlags } from '../../actors/demo/day-flags.js';

/** `--speed` as `meterfabric up` / `npm start --` / `demo` read it (actors/demo/day-flags.ts). */
describe('demo day flags: --speed', () => {
  it('takes simulated seconds per second up to a day per second, and is absent unless given', () => {
    expect(readDemoDayFlags({})).toEqual({});
    expect(readDemoDayFlags({ speed: '2880' })).toEqual({ speed: 2880 });
    expect(readDemoDayFlags({ speed: '0.5', 'load-profile-every-minutes': '360' })).toEqual({
      speed: 0.5,
      loadProfileEveryMinutes: 360,
    });
    expect(readDemoDayFlags({ speed: '86400' })).toEqual({ speed: 86_400 });
  });

  it('refuses a speed that is not a positive number up to 86400, saying what it wants', () => {
    for (const bad of ['0', '-1', 'fast', '', '1e3', '86401', 'Infinity'])
      expect(() => readDemoDayFlags({ speed: bad })).toThrow(
        expect.objectContaining({
          code: 'MF_CONFIG_INVALID',
          message: expect.stringMatching(/--speed must be a number above 0 and at most 86400 .* not "/),
        }),
      );
  });
});
