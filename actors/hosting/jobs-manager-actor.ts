import type { ActorBehaviour, ReminderRequest } from '../../cluster/actors/actor-definition.js';
import { type ClockedJobsManagerState, reminderTickAt } from '../jobs-manager/reminder-clock.js';
import type { JobsManagerEffect } from '../jobs-manager/state.js';
import { type CommandEvent, commandActor } from './command-actor.js';
import type { HostedCommand, HostedState } from './outbox.js';
import { reminderDriven, reminderFor } from './reminder-driven.js';
import { hostedMachines } from './services.js';

/**
 * The jobs manager as a cluster actor with a durable reminder for its time-driven work
 * (retry backoffs, attempt timeouts, deadlines), used when its day clock runs at rate 1
 * (actors/jobs-manager/reminder-clock.ts decides when); the same pattern as the work
 * manager's (reminder-driven.ts). A reminder fired late (a failover) ticks at the clock's
 * instant of the firing. Without a clock at rate 1 (the simulated day) there is no reminder:
 * the driver ticks.
 */

type JobsManagerHosted = HostedState<ClockedJobsManagerState, JobsManagerEffect>;
type JobsManagerCall = CommandEvent<HostedCommand<unknown>>;

export const jobsReminderName = 'jobs-clock';

export function nextJobsReminder(state: ClockedJobsManagerState): ReminderRequest | undefined {
  return reminderFor(state, jobsReminderName);
}

export const clockedJobsManagerActor: ActorBehaviour<JobsManagerHosted, JobsManagerCall> = reminderDriven({
  base: commandActor(hostedMachines['jobs-manager'], { inPlace: true }) as unknown as ActorBehaviour<
    JobsManagerHosted,
    JobsManagerCall
  >,
  name: jobsReminderName,
  service: 'jobs-manager',
  tick: (state, atMs, wallMs) => ({
    command: { type: 'reminderTick', atMs },
    atMs: reminderTickAt(state, atMs, wallMs),
  }),
});
