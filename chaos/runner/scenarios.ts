/**
 * Scenarios: which nemeses a run draws its faults from, and which workloads run under them.
 * `mixed` uses every nemesis with every workload (counter, list-append, the head-end day);
 * `list` and `headend` use every nemesis with that one workload; each nemesis is also a
 * scenario of its own (counter workload), for reproducing one kind of fault.
 */
import { MeterfabricError } from '../../core/errors.js';
import { type NemesisName, nemesisNames, targetedNemesisNames } from '../nemesis/nemeses.js';
import type { WorkloadName } from './workloads.js';

export const scenarios: Readonly<Record<string, readonly NemesisName[]>> = {
  mixed: nemesisNames,
  list: nemesisNames,
  headend: nemesisNames,
  crash: ['kill', 'kill-all', 'restart-graceful', 'pause', 'pause-primary'],
  partition: ['partition-minority', 'isolate-primary', 'isolate-etcd', 'one-way'],
  network: ['latency', 'rst-storm', 'bandwidth'],
  /** What network namespaces + iptables can do (run with --network netns). */
  kernel: ['kill', 'pause', 'partition-minority', 'isolate-primary', 'isolate-etcd', 'one-way'],
  ...Object.fromEntries([...nemesisNames, ...targetedNemesisNames].map((name) => [name, [name]])),
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

const workloadsOf: Readonly<Record<string, readonly WorkloadName[]>> = {
  mixed: ['counter', 'list', 'headend'],
  list: ['list'],
  headend: ['headend'],
};

/** The workloads a scenario runs unless `--workloads` says otherwise (default: counter). */
export function scenarioWorkloads(name: string): readonly WorkloadName[] {
  scenarioNemeses(name);
  return workloadsOf[name] ?? ['counter'];
}
