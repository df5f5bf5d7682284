import { ModemError } from '../errors.js';
import { printable } from '../identification.js';

/**
 * Data sets inside an IEC 62056-21 data block: `address(value*unit)`, several per line, and
 * extra `(value)` groups after an address (e.g. a maximum demand and its time stamp).
 */
export type DataSet = {
  address: string;
  values: Array<{ value: string; unit?: string }>;
};

const maxValueChars = 128;
const maxAddressChars = 32;

export function parseDataLine(line: string): DataSet[] {
  const sets: DataSet[] = [];
  let i = 0;
  while (i < line.length) {
    const open = line.indexOf('(', i);
    if (open < 0) {
      throw new ModemError(
        'MF_IEC62056_MALFORMED',
        `data line "${printable(line)}" has text outside a data set`,
        {
          line: printable(line, 120),
        },
      );
    }
    const address = line.slice(i, open);
    // One `*` or `&` may name a billing period (`1-1:1.8.0*62`: the value at the end of
    // period 62); obis.ts reports such historic values as unknown rather than current.
    if (address.length > maxAddressChars || /[()/!]/.test(address) || /[*&].*[*&]/.test(address)) {
      throw new ModemError('MF_IEC62056_MALFORMED', `data set address "${printable(address)}" is not valid`, {
        line: printable(line, 120),
      });
    }
    const close = line.indexOf(')', open);
    if (close < 0) {
      throw new ModemError('MF_IEC62056_TRUNCATED', `data line "${printable(line)}" has an unclosed "("`, {
        line: printable(line, 120),
      });
    }
    const group = parseGroup(line.slice(open + 1, close), line);
    if (address.length === 0) {
      const previous = sets[sets.length - 1];
      if (!previous) {
        throw new ModemError(
          'MF_IEC62056_MALFORMED',
          `data line "${printable(line)}" starts with a value but no address`,
        );
      }
      previous.values.push(group);
    } else {
      sets.push({ address, values: [group] });
    }
    i = close + 1;
  }
  return sets;
}

function parseGroup(inner: string, line: string): { value: string; unit?: string } {
  if (inner.length > maxValueChars || inner.includes('(')) {
    throw new ModemError('MF_IEC62056_MALFORMED', `data set value in "${printable(line)}" is not valid`);
  }
  const star = inner.indexOf('*');
  if (star < 0) return { value: inner };
  return { value: inner.slice(0, star), unit: inner.slice(star + 1) };
}

export function formatDataSet(address: string, value: string, unit?: string): string {
  return `${address}(${value}${unit ? `*${unit}` : ''})`;
}
