import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';

/** The kit's validator, used in place (the XSDs are test data we may not copy into the project). */
export const validateScript = join(packageRoot, '..', 'shared', 'cim-xsd', 'validate.sh');
export const cimKitDir = join(packageRoot, '..', 'shared', 'cim-xsd');

export type XsdResult = { ok: boolean; output: string };

export function validateFile(file: string): XsdResult {
  const r = spawnSync('sh', [validateScript, file], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export function validateXml(xml: string): XsdResult {
  const dir = mkdtempSync(join(tmpdir(), 'mf-cim-'));
  try {
    const file = join(dir, 'message.xml');
    writeFileSync(file, xml);
    return validateFile(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
