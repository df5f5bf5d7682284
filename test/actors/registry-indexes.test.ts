import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeadendError } from '../../actors/domain/errors.js';
import { applyRegistryCommand, type RegistryCommand } from '../../actors/registry/commands.js';
import { commissionedMetersOf } from '../../actors/registry/queries.js';
import { emptyRegistry, type RegistryState } from '../../actors/registry/types.js';

/**
 * The registry's indexes (meters per concentrator, meters per usage point) replace scans of
 * every meter and link; the answers must be the ones a full scan gives.
 */

const t0 = Date.UTC(2026, 0, 1);

const concentrator = (id: string): RegistryCommand => ({
  type: 'upsertConcentrator',
  id,
  concentratorType: 'DC450',
  serial: `S-${id}`,
  substation: 'SUB-1',
  transformer: 'TR-1',
  timeZone: 'UTC',
  communicationType: 'gprs',
  address: '127.0.0.1:40001',
});
const meter = (serial: string): RegistryCommand => ({
  type: 'upsertMeter',
  serial,
  manufacturer: 'ACME',
  model: 'CERM1',
  firmwareVersion: '1.0',
});

/** What commissionedMetersOf answered before the index: a scan of every meter. */
function scanned(state: RegistryState, concentratorId: string): string[] {
  return Object.values(state.meters)
    .filter((m) => m.concentratorId === concentratorId && m.state === 'commissioned')
    .map((m) => m.serial)
    .sort();
}

function tryApply(state: RegistryState, command: RegistryCommand, nowMs: number): string {
  try {
    applyRegistryCommand(state, command, nowMs);
    return 'ok';
  } catch (err) {
    if (err instanceof HeadendError) return err.code;
    throw err;
  }
}

describe('registry indexes', () => {
  it('commissioned meters per concentrator and POD conflicts match a full scan under any lifecycle sequence', () => {
    const serials = ['M0', 'M1', 'M2', 'M3'];
    const concs = ['C0', 'C1'];
    const pods = ['P0', 'P1'];
    const op = fc.oneof(
      fc.record({ t: fc.constant('install' as const), m: fc.nat(3), c: fc.nat(1) }),
      fc.record({
        t: fc.constantFrom(
          'commissionMeter' as const,
          'decommissionMeter' as const,
          'returnMeterToStock' as const,
        ),
        m: fc.nat(3),
      }),
      fc.record({ t: fc.constant('link' as const), m: fc.nat(3), p: fc.nat(1), from: fc.nat(5) }),
      fc.record({ t: fc.constant('unlink' as const), m: fc.nat(3), p: fc.nat(1), to: fc.nat(6) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const s = emptyRegistry();
        for (const c of concs) applyRegistryCommand(s, concentrator(c), t0);
        for (const m of serials) applyRegistryCommand(s, meter(m), t0);
        for (const p of pods) applyRegistryCommand(s, { type: 'upsertUsagePoint', pod: p }, t0);
        for (const o of ops) {
          const serial = serials[o.m] as string;
          let command: RegistryCommand;
          if (o.t === 'install')
            command = { type: 'installMeter', serial, concentratorId: concs[o.c] as string };
          else if (o.t === 'link')
            command = {
              type: 'linkMeter',
              meterSerial: serial,
              pod: pods[o.p] as string,
              effectiveFromMs: t0 + o.from,
            };
          else if (o.t === 'unlink')
            command = {
              type: 'unlinkMeter',
              meterSerial: serial,
              pod: pods[o.p] as string,
              effectiveToMs: t0 + o.to,
            };
          else command = { type: o.t, serial };
          // The same command on a copy whose indexes are rebuilt from scratch gives the same verdict.
          const legacy = JSON.parse(JSON.stringify(s)) as Partial<RegistryState>;
          delete legacy.metersByConcentrator;
          delete legacy.metersByPod;
          const verdictLegacy = tryApply(legacy as RegistryState, command, t0);
          expect(tryApply(s, command, t0)).toBe(verdictLegacy);
          for (const c of concs)
            expect(
              commissionedMetersOf(s, c)
                .map((m) => m.serial)
                .sort(),
            ).toEqual(scanned(s, c));
        }
        // No POD ever has two meters linked over an overlapping period.
        for (const p of pods) {
          const links = Object.values(s.links)
            .flat()
            .filter((l) => l.pod === p);
          for (const a of links)
            for (const b of links)
              if (a !== b)
                expect(
                  a.effectiveFromMs < (b.effectiveToMs ?? Infinity) &&
                    b.effectiveFromMs < (a.effectiveToMs ?? Infinity),
                ).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a meter returned to stock leaves its concentrator; re-installed elsewhere it is found there', () => {
    const s = emptyRegistry();
    for (const command of [concentrator('C0'), concentrator('C1'), meter('M1')])
      applyRegistryCommand(s, command, t0);
    applyRegistryCommand(s, { type: 'installMeter', serial: 'M1', concentratorId: 'C0' }, t0);
    applyRegistryCommand(s, { type: 'commissionMeter', serial: 'M1' }, t0);
    expect(commissionedMetersOf(s, 'C0').map((m) => m.serial)).toEqual(['M1']);
    applyRegistryCommand(s, { type: 'decommissionMeter', serial: 'M1' }, t0);
    applyRegistryCommand(s, { type: 'returnMeterToStock', serial: 'M1' }, t0);
    expect(s.metersByConcentrator.C0).toBeUndefined();
    applyRegistryCommand(s, { type: 'installMeter', serial: 'M1', concentratorId: 'C1' }, t0);
    applyRegistryCommand(s, { type: 'commissionMeter', serial: 'M1' }, t0);
    expect(commissionedMetersOf(s, 'C0')).toEqual([]);
    expect(commissionedMetersOf(s, 'C1').map((m) => m.serial)).toEqual(['M1']);
  });
});
