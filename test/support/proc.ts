import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Processes as Linux /proc shows them, for tests that check who started what, in which process
 * group, and whether it is gone. Zombies count as gone: they run nothing and hold no port.
 */

type Stat = { state: string; ppid: number; pgrp: number; command: string };

/** `/proc/<pid>/stat`: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so split after the last ')'. */
function readStat(pid: number | string): Stat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  const close = stat.lastIndexOf(')');
  const [state, ppid, pgrp] = stat.slice(close + 2).split(' ');
  return {
    state: state!,
    ppid: Number(ppid),
    pgrp: Number(pgrp),
    command: stat.slice(stat.indexOf('(') + 1, close),
  };
}

/** Parent and process group of `pid`; undefined once it is gone or a zombie. */
export function procStat(pid: number): { ppid: number; pgrp: number } | undefined {
  const stat = readStat(pid);
  return !stat || stat.state === 'Z' ? undefined : { ppid: stat.ppid, pgrp: stat.pgrp };
}

/** Running processes with their parent, group and command name; zombies left out. */
export function runningProcesses(): { pid: number; ppid: number; pgrp: number; command: string }[] {
  const found: { pid: number; ppid: number; pgrp: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat && stat.state !== 'Z')
      found.push({ pid: Number(entry), ppid: stat.ppid, pgrp: stat.pgrp, command: stat.command });
  }
  return found;
}

/** The TCP ports `pid` listens on (Linux /proc: its socket inodes matched in /proc/net/tcp{,6}). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st ... inode: st 0A is LISTEN.
      if (fields.length > 9 && fields[3] === '0A' && inodes.has(fields[9]!)) {
        ports.add(Number.parseInt(fields[1]!.split(':')[1]!, 16));
      }
    }
  }
  return [...ports];
}
