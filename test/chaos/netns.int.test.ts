/**
 * Real partitions with network namespaces and iptables: two namespaces on a bridge, a TCP
 * echo server in one, a client in the other; the client connects, is cut off by a partition
 * (and by a one-way cut), and connects again after healing. Skips, saying why, where the
 * kernel or the tools do not allow it (needs Linux, root, iproute2 and iptables).
 */
import type { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, netnsSupport } from '../../chaos/nemesis/netns.js';

const support = netnsSupport();
if (!support.supported) console.warn(`netns partitions skipped: ${support.reason}`);
const tag = (process.pid % 1679616).toString(36).padStart(4, '0').slice(-4);
let lab: NetnsLab | undefined;
let server: ReturnType<typeof spawn> | undefined;
const port = 20_000 + (process.pid % 20_000);

afterAll(() => {
  server?.kill('SIGKILL');
  lab?.destroy();
});

const echoServer = (host: string) => `
const net = require('node:net');
net.createServer((s) => s.on('data', (d) => s.write(d))).listen(${port}, '${host}', () => console.log('listening'));
`;

/** Connects from `from`'s namespace; resolves 'echo' if the round trip works, else the failure. */
function probe(currentLab: NetnsLab, from: string, host: string): Promise<string> {
  const script = `
const net = require('node:net');
const s = net.connect({ host: '${host}', port: ${port}, timeout: 1500 });
s.on('connect', () => s.write('ping'));
s.on('data', (d) => { console.log(String(d) === 'ping' ? 'echo' : 'garbled'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(0); });
`;
  return new Promise((resolve) => {
    const child = currentLab.spawnIn(from, process.execPath, ['-e', script]);
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
    });
    child.once('exit', () => resolve(out.trim()));
  });
}

describe.skipIf(!support.supported)('network-namespace partitions (iptables)', () => {
  it('a partition cuts a TCP connection between namespaces, a one-way cut too, and healing restores it', async () => {
    lab = NetnsLab.create(tag, ['a', 'b']);
    const b = lab.node('b');
    server = lab.spawnIn('b', process.execPath, ['-e', echoServer(b.address)]);
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.once('data', () => resolve());
      server?.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
    });
    expect(await probe(lab, 'a', b.address)).toBe('echo');
    lab.partition([['a'], ['b']]);
    expect(await probe(lab, 'a', b.address)).toBe('timeout');
    lab.heal();
    expect(await probe(lab, 'a', b.address)).toBe('echo');
    lab.cutOneWay('b', 'a');
    // b's replies to a are dropped: the connection cannot complete.
    expect(await probe(lab, 'a', b.address)).toBe('timeout');
    lab.heal();
    expect(await probe(lab, 'a', b.address)).toBe('echo');
  }, 30_000);
});
