/**
 * The SMMePlus daily CSV files and extraction reports: kinds, folders and exact column lists.
 * Columns come from the SMMePlus architecture seed §2.5.1.1 where it lists them (S_, DC_, VV_,
 * and the five extraction reports). For R_, PP_, MP_, SWE_ and the status word reports the
 * seed names the file but not its columns; the columns below are meterfabric's choice, marked
 * `fromSeed: false`, modelled on the neighbouring kinds.
 */
export type DailyKind = 'S' | 'DC' | 'R' | 'VV' | 'PP' | 'MP' | 'SWE';
export type ReportKind =
  | 'MeterAggregatedInfo'
  | 'MeterInFieldReport'
  | 'MeterDCInfo'
  | 'MeterReport'
  | 'ConcentratorInFieldReport'
  | 'MeterStatusWordReport'
  | 'MeterStatusWordAnalyzedReport'
  | 'ConcentratorStatusWordAnalyzedReport';
export type CsvKind = DailyKind | ReportKind;

export type CsvFolder = 'pload' | 'reading' | 'events' | 'extraction' | 'statusword';

export type CsvFormat = {
  kind: CsvKind;
  folder: CsvFolder;
  columns: readonly string[];
  /** Columns holding instants, written as `yyyy-mm-dd HH:MM:SS.fff` (UTC). */
  timeColumns: readonly string[];
  /**
   * The time columns named `*local`: wall-clock time of the concentrator's zone (see
   * codec.ts `localizeRow`), UTC when no zone is given.
   */
  localTimeColumns: readonly string[];
  fromSeed: boolean;
};

const dcColumns = [
  'serialnumber',
  't1',
  't2',
  't3',
  't4',
  't5',
  't6',
  'tot',
  'energytype',
  'energytype_description',
  'time',
];

const format = (
  kind: CsvKind,
  folder: CsvFolder,
  columns: string[],
  timeColumns: string[],
  fromSeed: boolean,
): CsvFormat => ({
  kind,
  folder,
  columns,
  timeColumns,
  localTimeColumns: timeColumns.filter((c) => c.endsWith('local')),
  fromSeed,
});

export const csvFormats: Readonly<Record<CsvKind, CsvFormat>> = {
  S: format(
    'S',
    'pload',
    ['serialnumber', 'pod', 'value', 'state', 'cimcode', 'sampledate'],
    ['sampledate'],
    true,
  ),
  DC: format('DC', 'reading', dcColumns, ['time'], true),
  R: format('R', 'reading', dcColumns, ['time'], false),
  VV: format('VV', 'reading', ['serialnumber', 'pod', 'type', 'value', 'time'], ['time'], true),
  // Prepayment readings (the seed: "all prepayment readings collected the day"); columns ours,
  // see prepayment-rows.ts. No cimcode column: the register and unit columns say what it is
  // (the ReadingType table maps only 19.0.0 / 19.10.0 / 19.20.0 in euro, for CIM).
  PP: format(
    'PP',
    'reading',
    ['serialnumber', 'pod', 'register', 'type', 'value', 'unit', 'time'],
    ['time'],
    false,
  ),
  MP: format('MP', 'reading', ['serialnumber', 'pod', 'value', 'cimcode', 'time'], ['time'], false),
  SWE: format(
    'SWE',
    'events',
    ['serialnumber', 'pod', 'concentrator', 'statusword', 'alarm', 'description', 'time'],
    ['time'],
    false,
  ),
  MeterAggregatedInfo: format(
    'MeterAggregatedInfo',
    'extraction',
    [
      'concentrator',
      'concentratorsn',
      'conc_nrn',
      'macaddress',
      'metersn',
      'row',
      'versionapp1',
      'state',
      'nrn',
      'lastdc_active',
      'lastdc_reactive',
      'lastdc_activeexport',
      'lastlp_active',
      'lastreadingdatelocal',
      'lastcedatarunlocal',
    ],
    [
      'lastdc_active',
      'lastdc_reactive',
      'lastdc_activeexport',
      'lastlp_active',
      'lastreadingdatelocal',
      'lastcedatarunlocal',
    ],
    true,
  ),
  MeterInFieldReport: format(
    'MeterInFieldReport',
    'extraction',
    [
      'concentrator',
      'pod',
      'macaddress',
      'serialnumber',
      'mertytype',
      'commissioned',
      'processstate',
      'nrn',
      'reachable',
      'statechangedateutc',
      'row',
      'phase',
      'isupload',
      'isdailyclosure',
      'primary_repeaters',
      'secondary_repeaters',
      'energydailyclosureprofile',
      'energyfastuploadprofile',
      'versionapp1',
      'versionswfx',
      'tlp',
    ],
    ['statechangedateutc'],
    true,
  ),
  MeterDCInfo: format(
    'MeterDCInfo',
    'extraction',
    [
      'concentrator',
      'macaddress',
      'serialnumber',
      'versionapp1',
      'tabletype',
      'description',
      'lastclosuredatelocal',
      'errordesc',
      'isunreachable',
      'iserror',
      'lastupdateutc',
    ],
    ['lastclosuredatelocal', 'lastupdateutc'],
    true,
  ),
  MeterReport: format(
    'MeterReport',
    'extraction',
    [
      'mertytype',
      'serialnumber',
      'serialnumberboard',
      'macaddress',
      'firmwareid',
      'hardwareid',
      'insertdateutc',
      'lastupdateutc',
    ],
    ['insertdateutc', 'lastupdateutc'],
    true,
  ),
  ConcentratorInFieldReport: format(
    'ConcentratorInFieldReport',
    'extraction',
    [
      'name',
      'concentratorype',
      'concentrator_serialnumber',
      'substation',
      'transformer',
      'timezone',
      'communicationtype',
      'module_serialnumber',
      'ipaddress',
      'procedure_profile',
      'concentrator_spont_name',
      'state',
      'isconfiguring',
      'isupdatingsw',
      'csw',
      'lastcswupdateut',
      'insertdateutc',
      'statechangedateutc',
      'versionrom',
      'versionmip',
      'versionsw',
      'versionhw',
      'hwdiag',
      'swdiagelm',
      'nrn',
      'isreachable',
    ],
    ['lastcswupdateut', 'insertdateutc', 'statechangedateutc'],
    true,
  ),
  MeterStatusWordReport: format(
    'MeterStatusWordReport',
    'statusword',
    ['concentrator', 'serialnumber', 'statusword', 'time'],
    ['time'],
    false,
  ),
  MeterStatusWordAnalyzedReport: format(
    'MeterStatusWordAnalyzedReport',
    'statusword',
    ['concentrator', 'serialnumber', 'statusword', 'bit', 'description', 'time'],
    ['time'],
    false,
  ),
  ConcentratorStatusWordAnalyzedReport: format(
    'ConcentratorStatusWordAnalyzedReport',
    'statusword',
    ['concentrator', 'statusword', 'bit', 'description', 'time'],
    ['time'],
    false,
  ),
};

export const dailyKinds: readonly DailyKind[] = ['S', 'DC', 'R', 'VV', 'PP', 'MP', 'SWE'];
export const reportKinds: readonly ReportKind[] = [
  'MeterAggregatedInfo',
  'MeterInFieldReport',
  'MeterDCInfo',
  'MeterReport',
  'ConcentratorInFieldReport',
  'MeterStatusWordReport',
  'MeterStatusWordAnalyzedReport',
  'ConcentratorStatusWordAnalyzedReport',
];

export function isDailyKind(kind: string): kind is DailyKind {
  return (dailyKinds as readonly string[]).includes(kind);
}

/** Separator of every SMMePlus file. */
export const CSV_DELIMITER = ';';
/** Line end: LF. The seed does not show it; LF is what csv-parse and every Unix tool read. */
export const CSV_RECORD_DELIMITER = '\n';
