import type { SimulatedFleet } from './fleet.js';
import type { TruthValue } from './ground-truth.js';
import { truthKey } from './ground-truth.js';

/**
 * Ground truth of the KNX and battery sites. Their devices keep no history, so the truth is
 * what the simulators recorded as they sent it: each KNX value a device put on the bus, each
 * state a battery broadcast, and the over-temperature protection's raise and clear as the BMS
 * evaluated it. One value per (device, quantity, instant): the first sent, as the head-end
 * keeps the first of equal instants.
 */

const batteryQuantities = ['stateOfCharge', 'stateOfHealth', 'voltage', 'current', 'temperature'] as const;

export function siteTruth(fleet: SimulatedFleet, fromMs: number, toMs: number): TruthValue[] {
  const out = new Map<string, TruthValue>();
  const add = (v: TruthValue) => {
    if (v.timestampMs <= fromMs || v.timestampMs > toMs) return;
    const key = truthKey(v);
    if (!out.has(key)) out.set(key, v);
  };
  for (const site of fleet.knxSites) {
    for (const sent of site.sent) {
      if (sent.role === 'relay' || typeof sent.value !== 'number') continue;
      add({
        kind: 'knx',
        meterSerial: sent.serial,
        pod: fleet.siteMeters.get(sent.serial)?.pod ?? '',
        concentratorId: site.id,
        code: sent.dpt,
        timestampMs: sent.atMs,
        value: sent.value,
      });
    }
  }
  for (const site of fleet.batterySites) {
    const base = {
      meterSerial: site.deviceId,
      pod: fleet.siteMeters.get(site.deviceId)?.pod ?? '',
      concentratorId: site.id,
    };
    let overheated = false;
    for (const sample of site.samples) {
      for (const quantity of batteryQuantities)
        add({
          ...base,
          kind: 'battery',
          code: quantity,
          timestampMs: sample.timestampMs,
          value: sample[quantity],
        });
      if (sample.overTemperature !== overheated) {
        overheated = sample.overTemperature;
        add({
          ...base,
          kind: 'batteryEvent',
          code: `battery.overTemperature:${overheated ? 'raised' : 'cleared'}`,
          timestampMs: sample.timestampMs,
          value: 1,
        });
      }
    }
  }
  return [...out.values()];
}
