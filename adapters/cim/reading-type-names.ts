/**
 * Names of ReadingType field values, for describing codes in words. Values follow the
 * IEC 61968-9 enumerations as listed in ../shared/reference/ami-cim.md (b), which cites the
 * Connexo cbo enums; only values meterfabric produces or is likely to receive are named,
 * the rest describe as "unknown code N".
 */
const table = (entries: [number, string][]): ReadonlyMap<number, string> => new Map(entries);

export const macroPeriodNames = table([
  [0, 'no macro period'],
  [8, 'billing period'],
  [11, 'daily'],
  [13, 'monthly'],
  [22, 'seasonal'],
  [24, 'weekly'],
  [32, 'specified period'],
]);

export const aggregateNames = table([
  [0, 'no aggregate'],
  [2, 'average'],
  [8, 'maximum'],
  [9, 'minimum'],
  [12, 'normal'],
  [26, 'sum'],
]);

export const measuringPeriodNames = table([
  [0, 'no measuring period'],
  [1, '10-minute'],
  [2, '15-minute'],
  [3, '1-minute'],
  [4, '24-hour'],
  [5, '30-minute'],
  [6, '5-minute'],
  [7, '60-minute'],
  [15, 'present'],
  [16, 'previous'],
]);

/** Measuring period code -> seconds, for the fixed intervals. */
export const measuringPeriodSeconds: ReadonlyMap<number, number> = new Map([
  [1, 600],
  [2, 900],
  [3, 60],
  [4, 86_400],
  [5, 1800],
  [6, 300],
  [7, 3600],
]);

export const accumulationNames = table([
  [0, 'no accumulation'],
  [1, 'bulk quantity (register)'],
  [2, 'continuous cumulative'],
  [3, 'cumulative'],
  [4, 'delta data'],
  [6, 'indicating'],
  [9, 'summation'],
  [12, 'instantaneous'],
]);

export const flowDirectionNames = table([
  [0, 'no flow direction'],
  [1, 'forward (import)'],
  [2, 'lagging'],
  [3, 'leading'],
  [4, 'net'],
  [15, 'Q1'],
  [16, 'Q2'],
  [17, 'Q3'],
  [18, 'Q4'],
  [19, 'reverse (export)'],
  [20, 'total'],
]);

export const commodityNames = table([
  [0, 'no commodity'],
  [1, 'electricity secondary metered'],
  [2, 'electricity primary metered'],
  [7, 'natural gas'],
  [9, 'potable water'],
]);

export const measurementKindNames = table([
  [0, 'no measurement kind'],
  [3, 'currency'],
  [4, 'current'],
  [8, 'demand'],
  [12, 'energy'],
  [15, 'frequency'],
  [37, 'power'],
  [38, 'power factor'],
  [46, 'temperature'],
  [54, 'rms voltage'],
  [94, 'battery voltage'],
  [158, 'voltage'],
]);

export const unitNames = table([
  [0, 'dimensionless'],
  [5, 'A'],
  [23, 'degC'],
  [29, 'V'],
  [33, 'Hz'],
  [38, 'W'],
  [61, 'VA'],
  [63, 'VAr'],
  [65, 'cos phi'],
  [71, 'VAh'],
  [72, 'Wh'],
  [73, 'VArh'],
  [106, 'Ah'],
  [108, 'timestamp'],
  [111, 'count'],
]);

export const multiplierPrefixes: ReadonlyMap<number, string> = new Map([
  [-3, 'm'],
  [-2, 'c'],
  [0, ''],
  [3, 'k'],
  [6, 'M'],
  [9, 'G'],
]);

/** Phase bit mask (field 15): A=128, B=64, C=32, N=16, A2=8, B2=4, C2=2, N2=1. */
export const phaseBits: readonly [number, string][] = [
  [128, 'A'],
  [64, 'B'],
  [32, 'C'],
  [16, 'N'],
  [8, 'A2'],
  [4, 'B2'],
  [2, 'C2'],
  [1, 'N2'],
];
