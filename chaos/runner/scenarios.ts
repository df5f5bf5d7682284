/**
 * Scenarios: which nemeses a run draws its faults from. `mixed` uses all of them; each
 * nemesis is also a scenario of its own, for reproducing one kind of fault.
 */
import { MeterfabricError } from '../../core/errors.js';
import { type NemesisName, nemesisNames } from '../nemesis/nemeses.js';

export const scenarios: Readonly<Record<string, readonly NemesisName[]>> = {
  mixed: nemesisNames,
  crash: ['kill', 'kill-all', 'restart-graceful', 'pause', 'pause-primary'],
  partition: ['partition-minority', 'isolate-primary', 'isolate-etcd', 'one-way'],
  network: ['latency', 'rst-storm', 'bandwidth'],
  /** What network namespaces + iptables can do (run with --network netns). */
  kernel: ['kill', 'pause', 'partition-minority', 'isolate-primary', 'isolate-etcd', 'one-way'],
  ...Object.fromEntries(nemesisNames.map((name) => [name, [name]])),
};

export function scenarioNemeses(name: string): readonly NemesisName[] {
  const nemeses = scenarios[name];
  if (!nemeses) {
    throw new MeterfabricError(
      'MF_CHAOS_UNKNOWN_SCENARIO',
      `unknown chaos scenario "${name}"; choose one of: ${Object.keys(scenarios).join(', ')}`,
    );
  }
  return nemeses;
}
