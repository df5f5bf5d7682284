import type { ActorBehaviour, ReminderRequest } from '../../cluster/actors/actor-definition.js';
import type { ClockedWorkManagerState } from '../work-manager/day-clock.js';
import type { WorkManagerEffect } from '../work-manager/schedule.js';
import { type CommandEvent, commandActor } from './command-actor.js';
import type { HostedCommand, HostedState } from './outbox.js';
import { reminderDriven, reminderFor } from './reminder-driven.js';
import { hostedMachines } from './services.js';

/**
 * The work manager as a cluster actor driven by a durable reminder (reminder-driven.ts): its
 * hosted machine (services.ts: the schedule with its day clock, behind the transactional
 * outbox) decides as every head-end actor does, and a reminder at the schedule's next due
 * instant runs its tick at that instant. The jobs go to the outbox as before; the driver
 * delivers them (HeadendDriver.follow).
 */

type WorkManagerHosted = HostedState<ClockedWorkManagerState, WorkManagerEffect>;
type WorkManagerCall = CommandEvent<HostedCommand<unknown>>;

export const reminderName = 'day-clock';

/** The reminder for the state's next tick, if its day clock has one. */
export function nextReminder(state: ClockedWorkManagerState): ReminderRequest | undefined {
  return reminderFor(state, reminderName);
}

export const hostedWorkManagerActor: ActorBehaviour<WorkManagerHosted, WorkManagerCall> = reminderDriven({
  base: commandActor(hostedMachines['work-manager'], { inPlace: true }) as unknown as ActorBehaviour<
    WorkManagerHosted,
    WorkManagerCall
  >,
  name: reminderName,
  service: 'work-manager',
  tick: (_state, atMs, wallMs) => ({ command: { type: 'reminderTick', wallMs }, atMs }),
});
