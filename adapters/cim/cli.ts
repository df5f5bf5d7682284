import { readFile, stat } from 'node:fs/promises';
import { exitCodes, parseCommandLine } from '../../core/command-line.js';
import { isMeterfabricError, UsageError } from '../../core/errors.js';
import { describeReadingType } from './reading-type.js';
import { defaultXsdValidator, validateCimStructure, validateWithXsd } from './validate.js';
import { defaultXmlLimits } from './xml-tree.js';

/**
 * `meterfabric cim validate <file.xml> [--xsd <validate.sh>] [--no-xsd]`: OK, or every problem
 * with its xpath; exit 0 / 1. The XSD check runs when the kit's validate.sh is found beside the
 * repository (../shared/cim-xsd) or given with --xsd.
 * `meterfabric cim readingtype <code>`: the 18-field code in words, then as JSON; a code it
 * cannot read exits 1 (the answer to the question asked).
 * Exit 2: an unknown subcommand or flag, a missing or extra argument, a file that cannot be read.
 */
const usage =
  'usage: meterfabric cim validate <file.xml> [--xsd <validate.sh>] [--no-xsd] | readingtype <code>\n';

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'validate') return validate(rest);
  if (sub === 'readingtype') return readingType(rest);
  process.stderr.write(usage);
  return exitCodes.usage;
}

async function validate(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine('cim validate', {
    args: argv,
    allowPositionals: true,
    options: { xsd: { type: 'string' }, 'no-xsd': { type: 'boolean' } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  // No file to validate is a wrong command line (2), not a message with problems (1).
  const sizeBytes = await stat(file).then(
    (s) => s.size,
    (err: unknown) => {
      throw new UsageError(`cannot read ${file} (${(err as Error).message}); pass the XML file to validate`);
    },
  );
  if (sizeBytes > defaultXmlLimits.maxBytes) {
    process.stdout.write(
      `INVALID: ${file}\n  MF_XML_TOO_LARGE ${sizeBytes} bytes is over the ${defaultXmlLimits.maxBytes}-byte limit\n`,
    );
    return 1;
  }
  const problems = validateCimStructure(await readFile(file, 'utf8'));
  const script = values.xsd ?? defaultXsdValidator;
  const xsd = values['no-xsd']
    ? undefined
    : values.xsd !== undefined || (await exists(script))
      ? validateWithXsd(file, script)
      : undefined;
  if (problems.length === 0 && (xsd === undefined || xsd.ok)) {
    process.stdout.write(
      `OK: ${file}${xsd ? ' (structure and XSD)' : ' (structure; XSD validator not found)'}\n`,
    );
    return 0;
  }
  const lines = problems.map((p) => `  ${p.code} ${p.reason}${p.xpath ? ` at ${p.xpath}` : ''}`);
  if (xsd && !xsd.ok) lines.push(...xsd.output.split('\n').map((l) => `  XSD ${l}`));
  process.stdout.write(`INVALID: ${file}\n${lines.join('\n')}\n`);
  return 1;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function readingType(argv: string[]): number {
  const code = argv[0];
  if (!code || argv.length > 1) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  try {
    const d = describeReadingType(code);
    process.stdout.write(`${d.code}: ${d.words}\n`);
    if (d.unknownFields.length > 0)
      process.stdout.write(`warning: unknown values in ${d.unknownFields.join(', ')}\n`);
    process.stdout.write(
      `${JSON.stringify({ code: d.code, words: d.words, fields: d.fields, named: d.named, unknownFields: d.unknownFields }, null, 2)}\n`,
    );
    return 0;
  } catch (err) {
    if (isMeterfabricError(err)) {
      process.stderr.write(`meterfabric cim readingtype: ${err.message} [${err.code}]\n`);
      return 1;
    }
    throw err;
  }
}
