import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../adapters/cim/cli.js';
import { cimKitDir } from './support/xsd.js';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  try {
    return { code: await run(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('meterfabric cim', () => {
  it('validate prints OK and exits 0 for a valid message', async () => {
    const r = await capture(['validate', join(cimKitDir, 'seed', 'smmeplus-event-eventmessage.fixed.xml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK: .*\(structure and XSD\)/);
  });

  it("validate lists the seed's namespace defect with its xpath and exits 1", async () => {
    const r = await capture([
      'validate',
      '--no-xsd',
      join(cimKitDir, 'seed', 'smmeplus-event-eventmessage.xml'),
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('MF_CIM_NAMESPACE EndDeviceEvents is in the message namespace');
    expect(r.out).toContain('at /EventMessage/Payload/EndDeviceEvents');
  });

  it('validate reports every problem of a bad request, and refuses an XML bomb', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-'));
    dirs.push(dir);
    const file = join(dir, 'bad.xml');
    writeFileSync(
      file,
      '<RequestMessage xmlns="http://iec.ch/TC57/2011/schema/message"><Header><Verb>create</Verb><Noun>EndDeviceControls</Noun></Header><Payload><EndDeviceControls xmlns="http://iec.ch/TC57/2011/EndDeviceControls#"><EndDeviceControl><EndDeviceControlType ref="9.9.9.9"/></EndDeviceControl></EndDeviceControls></Payload></RequestMessage>',
    );
    const r = await capture(['validate', '--no-xsd', file]);
    expect(r.code).toBe(1);
    expect(r.out.split('\n').filter((l) => l.startsWith('  MF_'))).toEqual([
      '  MF_CIM_CODE EndDeviceControlType "9.9.9.9" is not supported; use x.31.0.18 (connect), x.31.0.23 (disconnect), x.31.139.26 / x.31.139.22 (power reduction on/off) at /RequestMessage/Payload/EndDeviceControls/EndDeviceControl[1]/EndDeviceControlType',
      '  MF_CIM_MISSING EndDeviceControl names no EndDevices at /RequestMessage/Payload/EndDeviceControls/EndDeviceControl[1]/EndDevices',
    ]);
    writeFileSync(file, '<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>');
    const bomb = await capture(['validate', '--no-xsd', file]);
    expect(bomb.code).toBe(1);
    expect(bomb.out).toContain('MF_XML_DOCTYPE');
  });

  it('readingtype describes a code in words and JSON; a malformed code exits 1', async () => {
    const r = await capture(['readingtype', '0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0']);
    expect(r.code).toBe(0);
    const [words, ...json] = r.out.split('\n');
    expect(words).toBe(
      '0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0: 15-minute interval, delta data, reverse (export), electricity secondary metered, energy, in kWh',
    );
    expect(JSON.parse(json.join('\n')).fields.flowDirection).toBe(19);
    const bad = await capture(['readingtype', '0.0.2']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('MF_CIM_CODE');
    expect((await capture(['frobnicate'])).code).toBe(2);
  });
});
