import type { ObjectRef } from './model.js';
import type { XmlObject } from './xml-build.js';
import { children, childText, type XmlElement } from './xml-tree.js';

/** IdentifiedObject references (Meter, UsagePoint, Assets, ...): mRID? then Names*{name}. */
export function readObjectRef(el: XmlElement): ObjectRef {
  const ref: ObjectRef = { names: children(el, 'Names').map((n) => childText(n, 'name') ?? '') };
  const mRID = childText(el, 'mRID');
  if (mRID !== undefined) ref.mRID = mRID;
  return ref;
}

export function objectRefXml(ref: ObjectRef | undefined): XmlObject | undefined {
  if (!ref) return undefined;
  return { mRID: ref.mRID, Names: ref.names.map((name) => ({ name })) };
}

/** The first name, else the mRID: how meterfabric identifies a meter or usage point. */
export function refKey(ref: ObjectRef | undefined): string | undefined {
  return ref?.names[0] ?? ref?.mRID;
}
