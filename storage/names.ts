import { MeterfabricError } from '../core/errors.js';

/** Bounds on collection names and user keys: they become state keys on every replica. */
export const MAX_NAME_LENGTH = 100;
export const MAX_USER_KEY_LENGTH = 512;
const NAME = /^[A-Za-z0-9._:-]+$/;

export class CollectionInputError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_COLLECTION_INPUT', message, details);
    this.name = 'CollectionInputError';
  }
}

export function checkName(kind: string, name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new CollectionInputError(
      `${kind} name "${name}" is invalid: use 1..${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ : -`,
      { name },
    );
  }
  return name;
}

export function checkUserKey(key: string): string {
  if (key.length === 0 || key.length > MAX_USER_KEY_LENGTH) {
    throw new CollectionInputError(`key must be 1..${MAX_USER_KEY_LENGTH} characters, got ${key.length}`, {
      keyLength: key.length,
    });
  }
  return key;
}
