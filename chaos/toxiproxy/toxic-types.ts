/**
 * The toxic catalogue of Toxiproxy 2.12, as data: each type's attribute names (all integers,
 * default 0, as the Go structs declare them) and the JSON parsing rules the Go server applies.
 * Pure: no sockets, no timers. The per-connection behaviour lives in `stages.ts`.
 */
import { ApiError, badRequestBody, errToxicAlreadyExists } from './api-error.js';

export type ToxicType =
  | 'noop'
  | 'latency'
  | 'bandwidth'
  | 'slow_close'
  | 'timeout'
  | 'reset_peer'
  | 'slicer'
  | 'limit_data';

/** Attribute names per type, in the order the Go struct declares them (JSON output order). */
export const toxicAttributeNames: Readonly<Record<ToxicType, readonly string[]>> = {
  noop: [],
  latency: ['latency', 'jitter'],
  bandwidth: ['rate'],
  slow_close: ['delay'],
  timeout: ['timeout'],
  reset_peer: ['timeout'],
  slicer: ['average_size', 'size_variation', 'delay'],
  limit_data: ['bytes'],
};

export type ToxicAttributes = Record<string, number>;

export type Direction = 'upstream' | 'downstream';

/** One toxic as the API shows it: `{"attributes","name","type","stream","toxicity"}`. */
export type ToxicJson = {
  attributes: ToxicAttributes;
  name: string;
  type: ToxicType;
  stream: string;
  toxicity: number;
};

/** A toxic as stored: its JSON plus the parsed direction it acts on. */
export type ToxicSpec = ToxicJson & { direction: Direction };

export function isToxicType(value: unknown): value is ToxicType {
  return typeof value === 'string' && Object.hasOwn(toxicAttributeNames, value);
}

/** Go's stream.ParseDirection: case-insensitive "upstream" / "downstream". */
export function parseDirection(value: string): Direction | undefined {
  const lower = value.toLowerCase();
  return lower === 'upstream' || lower === 'downstream' ? lower : undefined;
}

export const errInvalidStream = new ApiError('stream was invalid, can be either upstream or downstream', 400);
export const errInvalidToxicType = new ApiError('invalid toxic type', 400);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges `input` attributes over `current` the way encoding/json decodes into an existing Go
 * struct: known fields must be integers (int64 / int), unknown fields are ignored, `null`
 * leaves a field unchanged.
 */
export function mergeAttributes(type: ToxicType, current: ToxicAttributes, input: unknown): ToxicAttributes {
  const merged: ToxicAttributes = {};
  for (const name of toxicAttributeNames[type]) merged[name] = current[name] ?? 0;
  if (input === undefined || input === null) return merged;
  if (!isObject(input)) throw badRequestBody('json: cannot unmarshal attributes: expected an object');
  for (const name of toxicAttributeNames[type]) {
    const value = input[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw badRequestBody(
        `json: cannot unmarshal ${JSON.stringify(value)} into attribute "${name}" of type int64`,
      );
    }
    merged[name] = value;
  }
  return merged;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw badRequestBody(`json: cannot unmarshal ${typeof value} into field "${field}" of type string`);
  return value;
}

function optionalNumber(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw badRequestBody(`json: cannot unmarshal ${typeof value} into field "${field}" of type float32`);
  }
  return value;
}

/**
 * Parses a toxic-create body in the order ToxicCollection.AddToxicJson checks it: defaults
 * (stream "downstream", toxicity 1.0, name "<type>_<stream>"), the stream, the type, the name's
 * uniqueness (`nameTaken`, which needs the collection), and only then the attributes.
 */
export function parseNewToxic(body: unknown, nameTaken: (name: string) => boolean): ToxicSpec {
  if (!isObject(body)) throw badRequestBody('json: cannot unmarshal into a toxic: expected an object');
  const streamText = optionalString(body, 'stream') ?? 'downstream';
  const toxicity = optionalNumber(body, 'toxicity') ?? 1.0;
  const typeText = optionalString(body, 'type') ?? '';
  const direction = parseDirection(streamText);
  if (!direction) throw errInvalidStream;
  const name = optionalString(body, 'name') || `${typeText}_${streamText}`;
  if (!isToxicType(typeText)) throw errInvalidToxicType;
  if (nameTaken(name)) throw errToxicAlreadyExists;
  const attributes = mergeAttributes(typeText, {}, body.attributes);
  return { attributes, name, type: typeText, stream: streamText, toxicity, direction };
}

/** Parses a toxic-update body (ToxicCollection.UpdateToxicJson): only attributes and toxicity change. */
export function parseToxicUpdate(current: ToxicSpec, body: unknown): ToxicSpec {
  if (!isObject(body)) throw badRequestBody('json: cannot unmarshal into a toxic: expected an object');
  const attributes = mergeAttributes(current.type, current.attributes, body.attributes);
  const toxicity = optionalNumber(body, 'toxicity') ?? current.toxicity;
  return { ...current, attributes, toxicity };
}

export function toxicToJson(spec: ToxicSpec): ToxicJson {
  return {
    attributes: { ...spec.attributes },
    name: spec.name,
    type: spec.type,
    stream: spec.stream,
    toxicity: spec.toxicity,
  };
}
