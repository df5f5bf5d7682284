/**
 * Scripted scenarios for the simulator, in simulated time. Each is a list of steps; the state at
 * any moment is the last step at or before it (pure: scenarioSettingsAt). Times are chosen so a
 * scenario plays in seconds with the simulator's default time scale.
 */
export type ScenarioSettings = {
  /** Inverter demand for the whole stack: + charge, − discharge. */
  demandA?: number;
  temperatureC?: number;
  /** Set once at the step (e.g. start a deep discharge from 12 %). */
  socPct?: number;
  /** The pack stops transmitting (link loss, as when a pack misses the inverter's 0x305). */
  silent?: boolean;
  fault?: boolean;
};

export type ScenarioStep = { atMs: number } & ScenarioSettings;
export type Scenario = {
  name: ScenarioName;
  description: string;
  steps: readonly ScenarioStep[];
  loopMs?: number;
};

export type ScenarioName =
  | 'normal-day'
  | 'over-temperature'
  | 'deep-discharge'
  | 'over-current'
  | 'heartbeat-loss'
  | 'idle';

const s = 1000;
const h = 3600 * s;

export const scenarios: Readonly<Record<ScenarioName, Scenario>> = {
  idle: {
    name: 'idle',
    description: 'standing at 25 °C, no current',
    steps: [{ atMs: 0, demandA: 0, temperatureC: 25 }],
  },
  'normal-day': {
    name: 'normal-day',
    description: 'night load, PV charging from morning to afternoon, evening discharge; repeats daily',
    loopMs: 24 * h,
    steps: [
      { atMs: 0, demandA: -6, temperatureC: 22 },
      { atMs: 7 * h, demandA: 10, temperatureC: 24 },
      { atMs: 10 * h, demandA: 25, temperatureC: 28 },
      { atMs: 15 * h, demandA: 5, temperatureC: 27 },
      { atMs: 18 * h, demandA: -20, temperatureC: 25 },
      { atMs: 22 * h, demandA: -8, temperatureC: 23 },
    ],
  },
  'over-temperature': {
    name: 'over-temperature',
    description: 'charging while the room heats past 55 °C (charge protection), then cools down',
    steps: [
      { atMs: 0, demandA: 15, temperatureC: 30 },
      { atMs: 5 * s, temperatureC: 45 },
      { atMs: 10 * s, temperatureC: 58 },
      { atMs: 30 * s, temperatureC: 50 },
      { atMs: 40 * s, temperatureC: 35 },
    ],
  },
  'deep-discharge': {
    name: 'deep-discharge',
    description:
      'discharging at 25 A from 12 % SOC through the 8 % forced-recharge point to the 45.6 V protection',
    steps: [{ atMs: 0, demandA: -25, temperatureC: 25, socPct: 12 }],
  },
  'over-current': {
    name: 'over-current',
    description: 'a load surge of 55 A (over the 50 A protection), then back to 20 A',
    steps: [
      { atMs: 0, demandA: -20, temperatureC: 25 },
      { atMs: 10 * s, demandA: -55 },
      { atMs: 20 * s, demandA: -20 },
    ],
  },
  'heartbeat-loss': {
    name: 'heartbeat-loss',
    description:
      'the pack falls silent for 30 s (as packs do when the inverter heartbeat stops), then resumes',
    steps: [
      { atMs: 0, demandA: -5, temperatureC: 25, silent: false },
      { atMs: 10 * s, silent: true },
      { atMs: 40 * s, silent: false },
    ],
  },
};

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(scenarios, name);
}

/** The settings in force `elapsedMs` into the scenario (daily scenarios wrap at `loopMs`). */
export function scenarioSettingsAt(scenario: Scenario, elapsedMs: number): ScenarioSettings {
  const t = scenario.loopMs ? elapsedMs % scenario.loopMs : elapsedMs;
  const settings: ScenarioSettings = {};
  for (const step of scenario.steps) {
    if (step.atMs > t) break;
    const { atMs: _at, socPct: _soc, ...rest } = step;
    Object.assign(settings, rest);
  }
  return settings;
}

/** Steps whose time falls in (fromMs, toMs]: one-shot settings such as socPct apply only then. */
export function stepsBetween(scenario: Scenario, fromMs: number, toMs: number): ScenarioStep[] {
  return scenario.steps.filter((step) =>
    fromMs < 0 ? step.atMs <= toMs : step.atMs > fromMs && step.atMs <= toMs,
  );
}
