import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdHealthy, startEtcd, startEtcdOnFreePorts } from '../../cluster/etcd/launcher.js';
import { AdminService, callUnary, channelOptions } from '../../cluster/node/grpc-contracts.js';
import { launchNode } from '../../cluster/node/node-launcher.js';
import { startTestEtcd, type TestEtcd } from '../support/etcd.js';
import { freePorts } from '../support/ports.js';
import { portOf, TestCluster } from './support/test-cluster.js';

/**
 * The port race: a port found free (bind :0, close) can be taken by another process before
 * the node binds it. Harnesses now start nodes on port 0 and read the port from the node's
 * ready report. Here another process holds the port a harness would have picked.
 */
function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function release(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

async function statusAt(address: string): Promise<{ nodeId: string; address: string }> {
  const client = new AdminService(address, grpc.credentials.createInsecure(), channelOptions);
  try {
    return await callUnary<{ nodeId: string; address: string }>(client, 'Status', {}, 10_000);
  } finally {
    client.close();
  }
}

describe('a port another process holds (nodes and etcd)', () => {
  let etcd: TestEtcd;
  let dir: string;
  let holder: Server | undefined;
  beforeAll(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'mf-port-race-'));
  });
  afterAll(async () => {
    await release(holder);
    await etcd?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with MF_NODE_START and the log tail names EADDRINUSE (what harnesses that pick ports hit)', {
    timeout: 60_000,
  }, async () => {
    holder = await occupy(0);
    const taken = (holder.address() as { port: number }).port;
    const error = await launchNode({
      id: 'p1',
      listen: `127.0.0.1:${taken}`,
      dataDir: join(dir, 'p1'),
      etcd: etcd.endpoint,
      logPath: join(dir, 'p1.log'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MF_NODE_START', message: expect.stringContaining('EADDRINUSE') });
    expect((error as Error).message).toContain('MF_LISTEN_FAILED');
  });

  it('an etcd started on a client port another etcd holds is not taken for ours: MF_ETCD_PORT_TAKEN', {
    timeout: 60_000,
  }, async () => {
    const clientPort = portOf(etcd.endpoint);
    const [peerPort] = await freePorts(1);
    const error = await startEtcd({ dataDir: join(dir, 'etcd-b'), clientPort, peerPort: peerPort! }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'MF_ETCD_PORT_TAKEN' });
    // The etcd that holds the port is untouched.
    expect(await etcdHealthy(etcd.endpoint)).toBe(true);
  });

  it('startEtcdOnFreePorts starts again on fresh ports when the first client port it picked is taken', {
    timeout: 60_000,
  }, async () => {
    const taken = portOf(etcd.endpoint);
    const picks: number[][] = [];
    const started = await startEtcdOnFreePorts({
      dataDir: join(dir, 'etcd-c'),
      // The first pick collides (as when another process binds the port in between).
      freePorts: async (count) => {
        const fresh = await freePorts(count);
        const pick = picks.length === 0 ? [taken, ...fresh.slice(1)] : fresh;
        picks.push(pick);
        return pick;
      },
    });
    try {
      expect(picks).toHaveLength(2);
      expect(started.clientPort).not.toBe(taken);
      expect(await etcdHealthy(started.endpoint)).toBe(true);
    } finally {
      await started.stop();
    }
  });

  it('on port 0 binds a port of its own and reports it; that address answers as the node', {
    timeout: 60_000,
  }, async () => {
    const launched = await launchNode({
      id: 'p2',
      listen: '127.0.0.1:0',
      dataDir: join(dir, 'p2'),
      etcd: etcd.endpoint,
      logPath: join(dir, 'p2.log'),
    });
    try {
      const port = portOf(launched.address);
      expect(port).toBeGreaterThan(0);
      expect(await statusAt(launched.address)).toMatchObject({ nodeId: 'p2', address: launched.address });
    } finally {
      launched.process.kill('SIGKILL');
      await launched.exited;
    }
  });
});

describe('TestCluster restarts a node whose old port another process has taken', () => {
  let cluster: TestCluster;
  let holder: Server | undefined;
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 1 });
  });
  afterAll(async () => {
    await release(holder);
    await cluster?.stop();
  });

  it('the restarted node comes up on another port, advertises it in etcd and answers there', {
    timeout: 120_000,
  }, async () => {
    const oldPort = cluster.nodes.get('n1')!.port;
    expect(oldPort).toBeGreaterThan(0);
    await cluster.signal('n1', 'SIGKILL');
    // Another process takes the port the node had (before the fix a restart reused it: EADDRINUSE).
    holder = await occupy(oldPort);

    const node = await cluster.startNode('n1');
    expect(node.port).not.toBe(oldPort);
    const address = `127.0.0.1:${node.port}`;
    expect(await statusAt(address)).toMatchObject({ nodeId: 'n1', address });
    const record = JSON.parse((await cluster.client.get('/meterfabric/nodes/n1').string()) ?? '{}') as {
      address?: string;
    };
    expect(record.address).toBe(address);
  });
});
