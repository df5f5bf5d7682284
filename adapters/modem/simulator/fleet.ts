import type { Clock } from '../../../core/clock.js';
import { luhnCheckDigit } from '../identification.js';
import type { MeterFault } from '../iec62056/meter-model.js';
import { SimulatedModem } from './modem.js';

export type FleetOptions = {
  count: number;
  servers: ReadonlyArray<{ host: string; port: number }>;
  clock: Clock;
  /** First 14 IMEI digits of modem 0 (TAC + serial); modem i adds i to the serial part. */
  imeiBase?: string;
  /** Spread connections over this many source addresses 127.0.0.(2..n+1); 0 = OS default. */
  sourceAddresses?: number;
  seed?: number;
  redialMs?: number;
  meterFault?: MeterFault;
};

/** A valid IMEI (Luhn) for fleet member `index`. */
export function fleetImei(index: number, base = '86000000000000'): string {
  const body = (BigInt(base) + BigInt(index)).toString().padStart(14, '0').slice(-14);
  return body + luhnCheckDigit(body);
}

/** N simulated modems with meters behind them, dialling one collector. */
export class ModemFleet {
  readonly modems: SimulatedModem[];

  constructor(options: FleetOptions) {
    this.modems = Array.from({ length: options.count }, (_, i) => {
      const sources = options.sourceAddresses ?? 0;
      return new SimulatedModem({
        imei: fleetImei(i, options.imeiBase),
        servers: options.servers,
        clock: options.clock,
        meterSerial: String(10_000_000 + i),
        seed: (options.seed ?? 1) * 100_003 + i,
        iccid: `897010${String(1_000_000_000_000 + i)}`,
        signalCsq: 10 + (i % 20),
        firmware: 'ATM3-SIM-1.0',
        localAddress: sources > 0 ? `127.0.0.${2 + (i % sources)}` : undefined,
        redialMs: options.redialMs,
        meterFault: options.meterFault,
      });
    });
  }

  start(): void {
    for (const m of this.modems) m.start();
  }

  async waitAllOnline(): Promise<void> {
    await Promise.all(this.modems.map((m) => m.waitOnline()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.modems.map((m) => m.stop()));
  }
}
