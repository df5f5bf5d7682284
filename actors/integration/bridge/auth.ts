import { timingSafeEqual } from 'node:crypto';
import type { BridgeTls } from './tls.js';

/**
 * Who may call the bridge, decided once for HTTP and gRPC. Pure: the transports hand in the
 * bearer credential and the verified client certificate's subject CN.
 *
 * How token and mTLS combine: each configured mechanism must pass, so with both configured a
 * caller needs a client certificate from the integrators' CA (checked by the TLS handshake,
 * and its CN listed if a list is configured) AND the bearer token. With neither configured
 * (development) everyone is let in.
 */

export type CallerCredentials = {
  /** The Authorization header / metadata value, e.g. "Bearer abc". */
  authorization: string | undefined;
  /** Subject CN(s) of the client certificate the TLS layer verified; undefined without one. */
  peerCommonName: string | readonly string[] | undefined;
};

export type AuthDecision =
  | { ok: true }
  | { ok: false; code: 'MF_UNAUTHENTICATED' | 'MF_FORBIDDEN'; reason: string };

export function authorizeCaller(
  config: { token?: string | undefined; tls?: BridgeTls | undefined },
  caller: CallerCredentials,
): AuthDecision {
  const tls = config.tls;
  if (tls?.clientCaPem !== undefined) {
    const names = caller.peerCommonName === undefined ? [] : [caller.peerCommonName].flat();
    // The handshake already refuses certificates from other CAs; this catches a transport
    // that let an unverified peer through, and applies the CN list.
    if (names.length === 0)
      return {
        ok: false,
        code: 'MF_UNAUTHENTICATED',
        reason: 'a client certificate signed by the integrators CA is required',
      };
    const allowed = tls.allowedClientNames;
    if (allowed !== undefined && !names.some((n) => allowed.includes(n)))
      return {
        ok: false,
        code: 'MF_FORBIDDEN',
        reason: `client certificate CN=${names.join(',')} is not an allowed integrator; ask the operator to add it`,
      };
  }
  if (config.token !== undefined) {
    const given = Buffer.from(caller.authorization?.replace(/^Bearer\s+/i, '') ?? '');
    const expected = Buffer.from(config.token);
    if (!(given.length === expected.length && timingSafeEqual(given, expected)))
      return {
        ok: false,
        code: 'MF_UNAUTHENTICATED',
        reason: 'missing or wrong bearer token: send Authorization: Bearer <token>',
      };
  }
  return { ok: true };
}
