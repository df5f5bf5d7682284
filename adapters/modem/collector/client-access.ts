import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../../../core/errors.js';
import type { Organization } from '../registry/types.js';

/**
 * Which polling clients an organization admits, from its CIDR list. An organization with no
 * ranges admits nobody: access is opt-in.
 */
export function buildAllowList(org: Pick<Organization, 'id' | 'allowedClients'>): BlockList {
  const list = new BlockList();
  const problems: string[] = [];
  for (const cidr of org.allowedClients) {
    const [address, prefixText] = cidr.split('/');
    const family = address && isIPv4(address) ? 'ipv4' : address && isIPv6(address) ? 'ipv6' : undefined;
    const prefix = prefixText === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefixText);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) {
      problems.push(`organization ${org.id}: "${cidr}" is not an IPv4/IPv6 address or CIDR range`);
      continue;
    }
    list.addSubnet(address!, prefix, family);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return list;
}

/** True when `remoteAddress` (as net.Socket reports it, IPv4-mapped or not) is admitted. */
export function clientAllowed(list: BlockList, remoteAddress: string | undefined): boolean {
  if (!remoteAddress) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return list.check(mapped[1]!, 'ipv4');
  return list.check(remoteAddress, isIPv4(remoteAddress) ? 'ipv4' : 'ipv6');
}
