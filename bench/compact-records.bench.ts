/**
 * Compact head-end calls (issue 7, actors/hosting/compact-records.ts): a simulated fleet's
 * hours through the head-end driver over InProcessPorts, every call measured (not sampled):
 * 1. bytes per call per service of the event a node persists (and replicates twice) and of
 *    the reply, plain JSON (before) against packed (after), on the very same calls;
 * 2. CPU per call of moving those calls through JSON, plain (stringify + parse of the event)
 *    against packed (pack + stringify + parse + unpack): the baseline is the plain form in the
 *    same run.
 * MF_BENCH_CONCENTRATORS (100) x MF_BENCH_METERS (20) meters, MF_BENCH_HOURS (6) simulated hours.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessPorts, type ServicePorts } from '../actors/host/service-ports.js';
import { packValue, unpackValue } from '../actors/hosting/compact-records.js';
import { openBenchDriver, originMs } from './support/headend-span.js';
import { type Measurement, printFigure, printRatios } from './support/report.js';

const concentrators = Number(process.env.MF_BENCH_CONCENTRATORS ?? 100);
const meters = Number(process.env.MF_BENCH_METERS ?? 20);
const hours = Number(process.env.MF_BENCH_HOURS ?? 6);
const stepMs = 15 * 60_000;

type Sizes = {
  calls: number;
  plainEvent: number;
  packedEvent: number;
  plainReply: number;
  packedReply: number;
};
type Call = { event: unknown; reply: unknown };

/** Measures every call's persisted event and reply both ways, and keeps the calls for part 2. */
class MeasuringPorts implements ServicePorts {
  readonly sizes = new Map<string, Sizes>();
  readonly calls: Call[] = [];
  /** Off while the fleet is provisioned: the span measured is the collection steps. */
  recording = false;
  constructor(private readonly inner: InProcessPorts) {}

  deliver: ServicePorts['deliver'] = async (address, command, atMs, key) => {
    const effects = await this.inner.deliver(address, command, atMs, key);
    if (!this.recording) return effects;
    const event = { command, nowMs: atMs };
    const reply = { effects };
    const row = this.sizes.get(address.service) ?? {
      calls: 0,
      plainEvent: 0,
      packedEvent: 0,
      plainReply: 0,
      packedReply: 0,
    };
    const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
    row.calls++;
    row.plainEvent += bytes({ idem: key, event });
    row.packedEvent += bytes({ idem: key, event: { c: packValue(command), nowMs: atMs } });
    row.plainReply += bytes(reply);
    row.packedReply += bytes({ c: packValue(reply) });
    this.sizes.set(address.service, row);
    this.calls.push({ event, reply });
    return effects;
  };
  outbox: ServicePorts['outbox'] = (address) => this.inner.outbox(address);
  state: ServicePorts['state'] = (address) => this.inner.state(address);
}

async function drive(ports: MeasuringPorts): Promise<number> {
  const outDir = mkdtempSync(join(tmpdir(), 'mf-bench-compact-'));
  try {
    const { clock, fleet, driver, consumer, written } = await openBenchDriver(ports, 'bench', outDir, {
      concentrators,
      meters,
    });
    for (const command of fleet.provisioning()) driver.applyRegistry(command);
    await driver.settle();
    await consumer.flush();
    written.readings = 0;
    ports.recording = true;
    for (let t = originMs + stepMs; t <= originMs + hours * 3_600_000; t += stepMs) {
      clock.set(t);
      driver.tick();
      await driver.settle();
      await driver.stepDone(t);
    }
    await driver.settle();
    await consumer.flush();
    return written.readings;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function cpuPerCall(name: string, calls: readonly Call[], move: (c: Call) => unknown): Measurement {
  const cpu = process.cpuUsage();
  let rounds = 0;
  const start = performance.now();
  while (performance.now() - start < 4_000 || rounds === 0) {
    for (const c of calls) move(c);
    rounds++;
  }
  const used = process.cpuUsage(cpu);
  return {
    name,
    ops: rounds * calls.length,
    elapsedMs: (used.user + used.system) / 1000,
    unit: 'calls/CPU-s',
  };
}

async function main(): Promise<void> {
  const ports = new MeasuringPorts(new InProcessPorts());
  const readings = await drive(ports);
  console.log(
    `compact head-end calls: ${concentrators}x${meters} meters, ${hours} simulated hours in process, ` +
      `${ports.calls.length} calls, ${readings} readings written`,
  );
  console.log('bytes per call, plain JSON -> packed (every call, the same calls both ways)');
  const kb = (n: number, calls: number) => n / calls / 1024;
  const total: Sizes = { calls: 0, plainEvent: 0, packedEvent: 0, plainReply: 0, packedReply: 0 };
  for (const [service, s] of [...ports.sizes.entries()].sort((a, b) => b[1].plainEvent - a[1].plainEvent)) {
    for (const k of Object.keys(total) as (keyof Sizes)[]) total[k] += s[k];
    printFigure(
      `${service}: persisted event per call`,
      kb(s.packedEvent, s.calls),
      'KB',
      `was ${kb(s.plainEvent, s.calls).toFixed(2)} KB (${(s.packedEvent / s.plainEvent).toFixed(3)}x); reply ${kb(s.plainReply, s.calls).toFixed(2)} -> ${kb(s.packedReply, s.calls).toFixed(2)} KB (${(s.packedReply / s.plainReply).toFixed(3)}x); ${s.calls} calls`,
    );
  }
  printFigure(
    'all services: persisted bytes per reading written',
    total.packedEvent / readings,
    'B',
    `was ${(total.plainEvent / readings).toFixed(0)} B (${(total.packedEvent / total.plainEvent).toFixed(3)}x); replies ${(total.plainReply / readings).toFixed(0)} -> ${(total.packedReply / readings).toFixed(0)} B per reading`,
  );
  // Part 2: what moving a call costs on the cluster, by its encoding steps: the driver
  // stringifies the call, the primary parses it and stringifies the event it persists, the two
  // other replicas parse that event to apply it, the primary stringifies the reply and the
  // driver parses it. Packed: the driver packs the call and the primary and the replicas
  // unpack it; the primary packs the reply and the driver unpacks it.
  const calls = ports.calls;
  const plain = cpuPerCall('plain JSON: call, event x3 replicas, reply', calls, (c) => {
    const event = JSON.parse(JSON.stringify(c.event));
    const persisted = JSON.stringify(event);
    JSON.parse(persisted);
    JSON.parse(persisted);
    JSON.parse(JSON.stringify(c.reply));
  });
  const packed = cpuPerCall('packed: the same with pack/unpack', calls, (c) => {
    const call = JSON.parse(JSON.stringify(packValue(c.event))) as unknown;
    unpackValue(call);
    const persisted = JSON.stringify(call);
    unpackValue(JSON.parse(persisted));
    unpackValue(JSON.parse(persisted));
    unpackValue(JSON.parse(JSON.stringify(packValue(c.reply))));
  });
  printRatios('CPU per call moving it through its encodings (the same calls, same run)', plain, [packed]);
  // The primary's reply alone (packing replies was 5-8% of a node's main thread in issue 7's
  // profile): the bytes it sends, plain against packed.
  const plainReply = cpuPerCall('reply: JSON.stringify', calls, (c) => JSON.stringify(c.reply));
  const packedReply = cpuPerCall('reply: packValue + JSON.stringify', calls, (c) =>
    JSON.stringify(packValue(c.reply)),
  );
  printRatios("CPU per call of the primary's reply (the same replies, same run)", plainReply, [packedReply]);
}

await main();
