/**
 * Real network partitions, Jepsen style: nodes in their own network namespaces joined by a
 * bridge, cut from each other by iptables DROP rules inside the namespaces. Needs Linux, root,
 * `ip` (iproute2) and `iptables`; `netnsSupport()` says exactly what is missing otherwise, so
 * callers can skip with a clear message. (netem is absent on these kernels, so latency and loss
 * stay with the userspace proxy.) Addresses are in 10.213.0.0/16 and exist only inside the
 * namespaces this lab creates; destroy() removes every namespace it made.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { MeterfabricError } from '../../core/errors.js';

export type NetnsSupport = { supported: boolean; reason: string };

function runs(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.status === 0;
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new MeterfabricError(
      'MF_CHAOS_NETNS',
      `${command} ${args.join(' ')} failed: ${(result.stderr || result.error?.message || '').trim()}`,
    );
  }
}

/** Whether namespace partitions can run here, and if not, why (for a clear skip message). */
export function netnsSupport(): NetnsSupport {
  if (process.platform !== 'linux') return { supported: false, reason: 'network namespaces need Linux' };
  if (process.getuid?.() !== 0) return { supported: false, reason: 'network namespaces need root' };
  if (!runs('ip', ['-V'])) return { supported: false, reason: '`ip` (iproute2) is not installed' };
  if (!runs('iptables', ['--version'])) {
    return { supported: false, reason: '`iptables` is not installed (apt-get install -y iptables)' };
  }
  const probe = `mf-probe-${process.pid}`;
  if (!runs('ip', ['netns', 'add', probe])) {
    return { supported: false, reason: 'the kernel or sandbox refuses `ip netns add`' };
  }
  const iptablesOk = runs('ip', ['netns', 'exec', probe, 'iptables', '-L', '-n']);
  runs('ip', ['netns', 'del', probe]);
  if (!iptablesOk) return { supported: false, reason: 'iptables cannot run inside a network namespace here' };
  return { supported: true, reason: '' };
}

let labCounter = 0;

/** A 4-character tag unique to this process and lab, so concurrent labs never collide. */
export function nextLabTag(): string {
  labCounter += 1;
  return ((process.pid * 37 + labCounter) % 1_679_616).toString(36).padStart(4, '0');
}

export type NetnsNode = { id: string; namespace: string; address: string };

export class NetnsLab {
  readonly nodes: NetnsNode[] = [];
  /** The root namespace's address on the lab's bridge (the runner, etcd). */
  hostAddress = '';
  private hostLink = '';
  private readonly switchNs: string;
  private readonly created: string[] = [];

  private constructor(tag: string) {
    this.switchNs = `mf-${tag}-sw`;
  }

  /**
   * Creates a bridge namespace and one namespace per node, each with one veth on the bridge.
   * `tag` (1-4 lower-case letters or digits) keeps concurrent labs apart.
   */
  static create(tag: string, nodeIds: readonly string[]): NetnsLab {
    if (!/^[a-z0-9]{1,4}$/.test(tag))
      throw new MeterfabricError('MF_CHAOS_NETNS', 'tag must be 1-4 letters or digits');
    if (nodeIds.length > 200) throw new MeterfabricError('MF_CHAOS_NETNS', 'at most 200 nodes');
    const lab = new NetnsLab(tag);
    const subnet = 1 + (Number.parseInt(tag, 36) % 250);
    try {
      lab.addNamespace(lab.switchNs);
      lab.exec(lab.switchNs, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
      lab.exec(lab.switchNs, ['ip', 'link', 'set', 'br0', 'up']);
      lab.hostLink = `mf${tag}h`;
      run('ip', ['link', 'add', lab.hostLink, 'type', 'veth', 'peer', 'name', `mf${tag}s`]);
      run('ip', ['link', 'set', `mf${tag}s`, 'netns', lab.switchNs]);
      lab.exec(lab.switchNs, ['ip', 'link', 'set', `mf${tag}s`, 'master', 'br0', 'up']);
      lab.hostAddress = `10.213.${subnet}.254`;
      run('ip', ['addr', 'add', `${lab.hostAddress}/24`, 'dev', lab.hostLink]);
      run('ip', ['link', 'set', lab.hostLink, 'up']);
      nodeIds.forEach((id, i) => {
        const namespace = `mf-${tag}-${id}`;
        lab.addNamespace(namespace);
        const hostSide = `mf${tag}${i}a`;
        const nodeSide = `mf${tag}${i}b`;
        run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nodeSide]);
        run('ip', ['link', 'set', hostSide, 'netns', lab.switchNs]);
        run('ip', ['link', 'set', nodeSide, 'netns', namespace]);
        lab.exec(lab.switchNs, ['ip', 'link', 'set', hostSide, 'master', 'br0', 'up']);
        const address = `10.213.${subnet}.${i + 1}`;
        lab.exec(namespace, ['ip', 'addr', 'add', `${address}/24`, 'dev', nodeSide]);
        lab.exec(namespace, ['ip', 'link', 'set', nodeSide, 'up']);
        lab.exec(namespace, ['ip', 'link', 'set', 'lo', 'up']);
        lab.nodes.push({ id, namespace, address });
      });
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private addNamespace(name: string): void {
    run('ip', ['netns', 'add', name]);
    this.created.push(name);
  }

  node(id: string): NetnsNode {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new MeterfabricError('MF_CHAOS_NETNS', `no node ${id} in this lab`);
    return node;
  }

  exec(namespace: string, command: string[]): void {
    run('ip', ['netns', 'exec', namespace, ...command]);
  }

  /** Starts a process inside a node's namespace (the caller stops it by PID). */
  spawnIn(id: string, command: string, args: string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.node(id).namespace, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Drops all traffic from `from` to `to` (one way): OUTPUT in from's namespace, INPUT in to's. */
  cutOneWay(from: string, to: string): void {
    const a = this.node(from);
    const b = this.node(to);
    this.exec(a.namespace, ['iptables', '-A', 'OUTPUT', '-d', b.address, '-j', 'DROP']);
    this.exec(b.namespace, ['iptables', '-A', 'INPUT', '-s', a.address, '-j', 'DROP']);
  }

  /** Drops `node`'s traffic to and from one TCP port at `address` (e.g. etcd on the host leg). */
  cutPort(node: string, address: string, port: number): void {
    const ns = this.node(node).namespace;
    this.exec(ns, [
      'iptables',
      '-A',
      'OUTPUT',
      '-p',
      'tcp',
      '-d',
      address,
      '--dport',
      String(port),
      '-j',
      'DROP',
    ]);
    this.exec(ns, [
      'iptables',
      '-A',
      'INPUT',
      '-p',
      'tcp',
      '-s',
      address,
      '--sport',
      String(port),
      '-j',
      'DROP',
    ]);
  }

  /** Cuts two nodes from each other both ways. */
  cut(a: string, b: string): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** Partitions the nodes into groups: every pair across groups is cut both ways. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const [i, group] of groups.entries()) {
      for (const other of groups.slice(i + 1)) {
        for (const a of group) for (const b of other) this.cut(a, b);
      }
    }
  }

  /** Removes every DROP rule: the network is whole again. */
  heal(): void {
    for (const node of this.nodes) this.exec(node.namespace, ['iptables', '-F']);
  }

  destroy(): void {
    if (this.hostLink) runs('ip', ['link', 'del', this.hostLink]);
    this.hostLink = '';
    for (const name of this.created.splice(0).reverse()) runs('ip', ['netns', 'del', name]);
  }
}
