import { isMeterfabricError } from '../../core/errors.js';
import { CimInvalidError, type Envelope, encodeResponseMessage, problem, readEnvelope } from './message.js';
import type { Reply, ReplyError } from './model.js';
import { MESSAGE_NS, type PayloadNoun, payloadNs } from './namespaces.js';
import {
  readEndDeviceControls,
  readGetMeterReadings,
  readMasterDataLinkage,
  readMeterConfig,
  readUsagePointConfig,
  readUsagePointLocationConfig,
} from './request-readers.js';
import type { InboundRequest, RequestContext } from './request-types.js';
import { isoUtc } from './xml-build.js';
import { child, defaultXmlLimits, parseXml, type XmlElement, type XmlLimits } from './xml-tree.js';

export type { InboundRequest, RequestContext } from './request-types.js';

/**
 * Inbound CIM requests: parse, validate, and return either a typed request or the FAILED
 * ResponseMessage listing every problem with its xpath. Nothing here applies anything: the
 * caller applies a request only when `ok` is true, so invalid input changes nothing.
 */
export type ParseOutcome =
  | { ok: true; request: InboundRequest }
  | { ok: false; reply: Reply; response: string; noun: string };

export type ParseRequestOptions = {
  limits?: XmlLimits;
  /** For the reply header. */
  nowMs?: number;
  source?: string;
};

const verbsByNoun: Record<string, readonly string[]> = {
  MeterConfig: ['create', 'change', 'delete'],
  UsagePointConfig: ['create', 'change', 'delete'],
  UsagePointLocationConfig: ['create', 'change', 'delete'],
  MasterDataLinkageConfig: ['create', 'close'],
  MeterReadings: ['get'],
  EndDeviceControls: ['create'],
};

/** The payload element for a noun, found in Request (get) or Payload; its namespace must be the noun's. */
function payloadElement(
  env: Envelope,
  name: PayloadNoun,
  problems: ReplyError[],
): { el: XmlElement; path: string } | undefined {
  for (const [container, containerPath] of [
    [env.request, env.requestPath],
    [env.payload, env.payloadPath],
  ] as const) {
    if (!container || !containerPath) continue;
    const el = child(container, name);
    if (!el) continue;
    const path = `${containerPath}/${name}`;
    if (el.ns !== payloadNs(name))
      problems.push(
        problem(
          'MF_CIM_NAMESPACE',
          `${name} is in namespace "${el.ns || '(none)'}"${el.ns === MESSAGE_NS ? ' (the message namespace)' : ''}; expected ${payloadNs(name)}`,
          path,
        ),
      );
    return { el, path };
  }
  problems.push(
    problem(
      'MF_CIM_MISSING',
      `no ${name} element in the message`,
      `${env.path}/${name === 'GetMeterReadings' ? 'Request' : 'Payload'}/${name}`,
    ),
  );
  return undefined;
}

function failed(
  problems: ReplyError[],
  noun: string,
  env: Envelope | undefined,
  options: ParseRequestOptions,
): ParseOutcome {
  const reply: Reply = { result: 'FAILED', errors: problems };
  const response = encodeResponseMessage(reply, {
    noun,
    timestamp: isoUtc(options.nowMs ?? Date.now()),
    ...(env ? { request: env.header } : {}),
    ...(options.source ? { source: options.source } : {}),
  });
  return { ok: false, reply, response, noun };
}

export function parseInboundRequest(
  xml: string,
  ctx: RequestContext,
  options: ParseRequestOptions = {},
): ParseOutcome {
  let env: Envelope;
  try {
    env = readEnvelope(parseXml(xml, options.limits ?? defaultXmlLimits));
  } catch (err) {
    if (err instanceof CimInvalidError) return failed(err.problems, 'Unknown', undefined, options);
    if (isMeterfabricError(err))
      return failed([problem(err.code, err.message, '/')], 'Unknown', undefined, options);
    throw err;
  }
  const { header } = env;
  const problems: ReplyError[] = [];
  const allowed = verbsByNoun[header.noun];
  if (!allowed) {
    problems.push(
      problem(
        'MF_CIM_NOUN',
        `Noun "${header.noun}" is not a request meterfabric accepts (${Object.keys(verbsByNoun).join(', ')})`,
        `${env.path}/Header/Noun`,
      ),
    );
    return failed(problems, header.noun, env, options);
  }
  if (!allowed.includes(header.verb)) {
    problems.push(
      problem(
        'MF_CIM_VERB',
        `Verb "${header.verb}" is not accepted for ${header.noun} (use ${allowed.join(' or ')})`,
        `${env.path}/Header/Verb`,
      ),
    );
    return failed(problems, header.noun, env, options);
  }
  const verb = header.verb;
  let request: InboundRequest | undefined;
  switch (header.noun) {
    case 'MeterConfig': {
      const p = payloadElement(env, 'MeterConfig', problems);
      if (p)
        request = {
          noun: 'MeterConfig',
          verb: verb as 'create',
          header,
          meters: readMeterConfig(p.el, p.path, verb, ctx, problems),
        };
      break;
    }
    case 'UsagePointConfig': {
      const p = payloadElement(env, 'UsagePointConfig', problems);
      if (p)
        request = {
          noun: 'UsagePointConfig',
          verb: verb as 'create',
          header,
          usagePoints: readUsagePointConfig(p.el, p.path, verb, ctx, problems),
        };
      break;
    }
    case 'UsagePointLocationConfig': {
      const p = payloadElement(env, 'UsagePointLocationConfig', problems);
      if (p)
        request = {
          noun: 'UsagePointLocationConfig',
          verb: verb as 'create',
          header,
          locations: readUsagePointLocationConfig(p.el, p.path, verb, ctx, problems),
        };
      break;
    }
    case 'MasterDataLinkageConfig': {
      const p = payloadElement(env, 'MasterDataLinkageConfig', problems);
      if (p)
        request = {
          noun: 'MasterDataLinkageConfig',
          verb: verb as 'create',
          header,
          links: readMasterDataLinkage(p.el, p.path, verb, ctx, problems),
        };
      break;
    }
    case 'MeterReadings': {
      const p = payloadElement(env, 'GetMeterReadings', problems);
      if (p)
        request = {
          noun: 'GetMeterReadings',
          header,
          onDemand: header.asyncReplyFlag !== true,
          ...readGetMeterReadings(p.el, p.path, ctx, problems),
        };
      break;
    }
    case 'EndDeviceControls': {
      const p = payloadElement(env, 'EndDeviceControls', problems);
      if (p)
        request = {
          noun: 'EndDeviceControls',
          header,
          controls: readEndDeviceControls(p.el, p.path, ctx, problems),
        };
      break;
    }
  }
  if (problems.length > 0 || !request) return failed(problems, header.noun, env, options);
  return { ok: true, request };
}

/** The OK reply to an applied request. */
export function encodeOkReply(request: InboundRequest, options: { nowMs: number; source?: string }): string {
  const noun = request.noun === 'GetMeterReadings' ? 'MeterReadings' : request.noun;
  return encodeResponseMessage(
    { result: 'OK', errors: [] },
    {
      noun,
      request: request.header,
      timestamp: isoUtc(options.nowMs),
      ...(options.source ? { source: options.source } : {}),
    },
  );
}

/**
 * The Reply of a request whose items were applied one by one (e.g. three meters of which one
 * failed at the device): OK if all succeeded, FAILED if none did, PARTIAL otherwise.
 */
export function replyForItems(outcomes: readonly (ReplyError | undefined)[]): Reply {
  const errors = outcomes.filter((o): o is ReplyError => o !== undefined);
  const result = errors.length === 0 ? 'OK' : errors.length === outcomes.length ? 'FAILED' : 'PARTIAL';
  return { result, errors };
}
