import { describe, expect, it } from 'vitest';
import { formatIndividualAddress, parseGroupAddress } from '../../adapters/knx/address.js';
import { groupPayload, groupService, groupTelegram } from '../../adapters/knx/cemi.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { SimulatedBus } from '../../adapters/knx/simulator/simulated-bus.js';
import { ManualClock } from '../../core/clock.js';

const meter = {
  serial: 'KNX-0001',
  individualAddress: 0x1105,
  energy: { groupAddress: '5/1/20', dpt: '13.010' as const },
  power: { groupAddress: '5/1/21' },
  relay: { groupAddress: '5/1/22' },
  powerW: 3600,
  initialEnergyWh: 1000,
};

describe('SimulatedBus', () => {
  it('energy counters advance with power and time; reads are answered from the meter', () => {
    const clock = new ManualClock(0);
    const bus = new SimulatedBus([meter], clock.now());
    clock.advance(3_600_000); // one hour at 3600 W = 3600 Wh
    const [answer] = bus.handle(
      groupTelegram('GroupValue_Read', parseGroupAddress('5/1/20'), undefined),
      clock.now(),
    );
    expect(groupService(answer!.tpdu)).toBe('GroupValue_Response');
    expect(formatIndividualAddress(answer!.source)).toBe('1.1.5');
    expect(decodeDpt('13.010', groupPayload(answer!.tpdu)!)).toBe(4600);
  });

  it('opening the load-shedding relay stops the counter and zeroes the power', () => {
    const clock = new ManualClock(0);
    const bus = new SimulatedBus([meter], clock.now());
    bus.handle(groupTelegram('GroupValue_Write', parseGroupAddress('5/1/22'), encodeDpt('1.001', false)), 0);
    clock.advance(3_600_000);
    bus.sync(clock.now());
    expect(bus.meter('KNX-0001')).toEqual({ energyWh: 1000, relayClosed: false, powerW: 0 });
    expect(bus.writes).toHaveLength(1);
  });

  it('cyclic sending emits every datapoint once per interval', () => {
    const clock = new ManualClock(0);
    const bus = new SimulatedBus([meter], clock.now(), 10_000);
    expect(bus.tick(9_999)).toEqual([]);
    const sent = bus.tick(10_000);
    expect(sent.map((t) => t.destination).sort()).toEqual(
      ['5/1/20', '5/1/21', '5/1/22'].map((ga) => parseGroupAddress(ga)).sort(),
    );
    expect(bus.nextDeadlineMs()).toBe(20_000);
  });
});
