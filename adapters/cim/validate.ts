import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMeterfabricError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import { parseEndDeviceEventsMessage } from './end-device-events.js';
import { CimInvalidError, problem, readEnvelope } from './message.js';
import { parseMeterReadingsMessage } from './meter-readings.js';
import type { ReplyError } from './model.js';
import { MESSAGE_NS } from './namespaces.js';
import { parseInboundRequest } from './requests.js';
import { parseXml } from './xml-tree.js';

/**
 * Structural validation of any CIM message meterfabric reads or writes (limits, envelope,
 * header, payload namespace, mandatory elements, codes), without a registry: `create`
 * requests are checked as if their objects were new, others as if they existed. Optionally
 * also the kit's XSD validator (`validate.sh`, which needs xmllint and the XSDs; they are
 * test data and never shipped, so this is opt-in or found beside the repository).
 */
export type ValidationResult = { ok: boolean; problems: ReplyError[]; xsd?: { ok: boolean; output: string } };

export function validateCimStructure(xml: string): ReplyError[] {
  try {
    const env = readEnvelope(parseXml(xml));
    const noun = env.header.noun;
    const strict: ReplyError[] = [];
    for (const [container, path] of [
      [env.payload, env.payloadPath],
      [env.request, env.requestPath],
    ] as const)
      for (const c of container?.children ?? [])
        if (c.ns === MESSAGE_NS && !['OperationSet', 'Compressed', 'ID', 'Format'].includes(c.local))
          strict.push(
            problem(
              'MF_CIM_NAMESPACE',
              `${c.local} is in the message namespace (the seed's layout); it must be in its payload namespace`,
              `${path}/${c.local}`,
            ),
          );
    if (strict.length > 0) return strict;
    if (env.kind === 'EventMessage' || env.header.verb === 'reply') {
      if (noun === 'MeterReadings') parseMeterReadingsMessage(xml);
      else if (noun === 'EndDeviceEvents') parseEndDeviceEventsMessage(xml);
      return [];
    }
    const creating = env.header.verb === 'create';
    const outcome = parseInboundRequest(xml, {
      meterExists: () => !creating,
      usagePointExists: () => !creating,
    });
    return outcome.ok ? [] : outcome.reply.errors;
  } catch (err) {
    if (err instanceof CimInvalidError) return err.problems;
    if (isMeterfabricError(err)) return [problem(err.code, err.message, '/')];
    throw err;
  }
}

export const defaultXsdValidator = join(packageRoot, '..', 'shared', 'cim-xsd', 'validate.sh');

export function validateWithXsd(file: string, script: string): { ok: boolean; output: string } {
  if (!existsSync(script)) return { ok: false, output: `XSD validator ${script} not found` };
  const r = spawnSync('sh', [script, file], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}
