import { invalidInput } from '../domain/errors.js';
import { applyToReporting, newReporting, type ReportingState } from '../reporting/store.js';
import type { RoutedRecord } from '../tlog/router.js';

/**
 * The integration service's replicated state, as a pure state machine (hosted as the
 * `integration` singleton actor through actors/hosting/outbox.ts): routed TLog batches are
 * appended to the output stream, and the reporting facts and status-word samples for the
 * extraction reports are folded in as they arrive. Each appended batch becomes one outbox
 * entry of the hosted actor, whose id is the batch's stream position; the consumers (CSV
 * writers and CIM publisher, actors/integration/checkpoint-consumer.ts) write it and then
 * acknowledge it, which is their replicated checkpoint: the stream is what is not yet
 * acknowledged. The writers also keep their last written position on disk, so a batch
 * written but not yet acknowledged when the driver died is skipped when it is replayed.
 */

export type StatusWordRow = { concentrator: string; serialnumber: string; statusword: string; time: number };

export type IntegrationState = {
  reporting: ReportingState;
  statusWords: StatusWordRow[];
  /** The driver's last completed step on the simulated clock: a new driver resumes after it. */
  lastStepMs?: number;
  appended: number;
};

export type IntegrationCommand =
  | { type: 'append'; routed: RoutedRecord[] }
  | { type: 'stepDone'; atMs: number };

/** One stream batch: `atMs` is when it was appended (the CSV files' collection instant). */
export type StreamBatch = { type: 'batch'; atMs: number; routed: RoutedRecord[] };

/** Bound on remembered status-word samples (the MeterStatusWordReport of a day). */
export const maxStatusWordRows = 200_000;

export function newIntegration(): IntegrationState {
  return { reporting: newReporting(), statusWords: [], appended: 0 };
}

export function applyIntegrationCommand(
  state: IntegrationState,
  command: IntegrationCommand,
  nowMs: number,
): { state: IntegrationState; effects: StreamBatch[] } {
  switch (command.type) {
    case 'append': {
      if (!Array.isArray(command.routed)) throw invalidInput('append takes a list of routed records');
      if (command.routed.length === 0) return { state, effects: [] };
      applyToReporting(state.reporting, command.routed);
      for (const { record } of command.routed)
        if (record.type === 'statusWord')
          state.statusWords.push({
            concentrator: record.concentratorId,
            serialnumber: record.meterSerial,
            statusword: record.word.toString(16).toUpperCase().padStart(8, '0'),
            time: record.timestampMs,
          });
      if (state.statusWords.length > maxStatusWordRows)
        state.statusWords.splice(0, state.statusWords.length - maxStatusWordRows);
      state.appended += command.routed.length;
      return { state, effects: [{ type: 'batch', atMs: nowMs, routed: command.routed }] };
    }
    case 'stepDone': {
      if (!Number.isFinite(command.atMs)) throw invalidInput('stepDone takes a finite atMs');
      if (state.lastStepMs === undefined || command.atMs > state.lastStepMs) state.lastStepMs = command.atMs;
      return { state, effects: [] };
    }
  }
}
