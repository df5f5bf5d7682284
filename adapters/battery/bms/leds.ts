/**
 * The GTX2500 LED panel (manual §5.2.2): L1–L6 green battery level, L7 red ALM, L8 green RUN.
 * Pure: a pack state in, eight LED patterns out; `isLit` turns a pattern into on/off at a time.
 */
export type LedPattern = 'off' | 'on' | 'flash1' | 'flash2' | 'flash3';
export type LedPanel = {
  L1: LedPattern;
  L2: LedPattern;
  L3: LedPattern;
  L4: LedPattern;
  L5: LedPattern;
  L6: LedPattern;
  L7: LedPattern;
  L8: LedPattern;
};

export type PanelMode =
  | 'shutdown'
  | 'standby'
  | 'charging'
  | 'fullCharged'
  | 'chargeProtection'
  | 'discharging'
  | 'underVoltage'
  | 'dischargeProtection'
  | 'fault';

/** Flash timings from the manual's note: flash 1 = 0.25 s on / 3.75 s off, 2 = 0.5/0.5, 3 = 0.5/1.5. */
export const flashTimingMs: Readonly<
  Record<'flash1' | 'flash2' | 'flash3', { onMs: number; offMs: number }>
> = {
  flash1: { onMs: 250, offMs: 3750 },
  flash2: { onMs: 500, offMs: 500 },
  flash3: { onMs: 500, offMs: 1500 },
};

export function isLit(pattern: LedPattern, nowMs: number): boolean {
  if (pattern === 'on') return true;
  if (pattern === 'off') return false;
  const { onMs, offMs } = flashTimingMs[pattern];
  return nowMs % (onMs + offMs) < onMs;
}

/**
 * The manual's six level bands: 0–17, 18–33, 34–50, 51–66, 67–83, 84–100 %. SOC is taken as
 * the whole percent shown (floor), so 17.9 % is still band 1.
 */
export function levelBand(socPct: number): 1 | 2 | 3 | 4 | 5 | 6 {
  const soc = Math.floor(socPct);
  if (soc <= 17) return 1;
  if (soc <= 33) return 2;
  if (soc <= 50) return 3;
  if (soc <= 66) return 4;
  if (soc <= 83) return 5;
  return 6;
}

const levelKeys = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6'] as const;

function allOff(): LedPanel {
  return { L1: 'off', L2: 'off', L3: 'off', L4: 'off', L5: 'off', L6: 'off', L7: 'off', L8: 'off' };
}

/**
 * Discharge/standby: L1..Lband lit. Charging: the highest LED of the band flashes (flash 2) and
 * the ones below are lit. The extracted charging table has its 0–33 % rows shifted by one (the
 * 0–17 % row is empty and 18–33 % shows only L1 flashing); the rows 51–100 % and the text ("The
 * highest capacity indicator LED flashes, others lighting") fix the rule used here.
 */
function levelLeds(panel: LedPanel, socPct: number, charging: boolean): void {
  const band = levelBand(socPct);
  for (let i = 0; i < band; i++) panel[levelKeys[i]!] = charging && i === band - 1 ? 'flash2' : 'on';
}

export function ledPanel(mode: PanelMode, socPct: number): LedPanel {
  const panel = allOff();
  switch (mode) {
    case 'shutdown':
    case 'underVoltage': // "UVP": everything off
      return panel;
    case 'fault':
    case 'chargeProtection':
    case 'dischargeProtection':
      panel.L7 = 'on';
      return panel;
    case 'standby':
      panel.L8 = 'flash1';
      levelLeds(panel, socPct, false);
      return panel;
    case 'charging':
      panel.L8 = 'on';
      levelLeds(panel, socPct, true);
      return panel;
    case 'fullCharged':
      panel.L8 = 'on';
      for (const k of levelKeys) panel[k] = 'on';
      return panel;
    case 'discharging':
      panel.L8 = 'flash3';
      levelLeds(panel, socPct, false);
      return panel;
  }
}
