import { describe, expect, it } from 'vitest';
import { LeaseValidity } from '../../cluster/membership/lease-validity.js';

describe('lease validity (self-fencing)', () => {
  it('is valid until grant send time + TTL - margin', () => {
    const v = new LeaseValidity(3000, 500);
    v.granted(1000);
    expect(v.untilMs).toBe(3500);
    expect(v.isValid(3499)).toBe(true);
    expect(v.isValid(3500)).toBe(false);
  });

  it('extends from the send time of the answered keepalive, not the answer time', () => {
    const v = new LeaseValidity(3000, 500);
    v.granted(0);
    v.keepaliveSent(1000);
    v.keepaliveAnswered(3000); // answered late: still measured from 1000
    expect(v.untilMs).toBe(3500);
  });

  it('matches answers to sends in order, so a late answer to an old keepalive never extends past what it proves', () => {
    const v = new LeaseValidity(3000, 500);
    v.granted(0);
    v.keepaliveSent(1000);
    v.keepaliveSent(2000);
    v.keepaliveAnswered(3000);
    expect(v.untilMs).toBe(3500);
    v.keepaliveAnswered(3000);
    expect(v.untilMs).toBe(4500);
  });

  it('stops extending when keepalives go unanswered: a frozen or cut-off node fences itself', () => {
    const v = new LeaseValidity(3000, 500);
    v.granted(0);
    v.keepaliveSent(1000);
    v.keepaliveFailed();
    v.keepaliveAnswered(3000); // a stray answer after the stream broke proves nothing
    expect(v.untilMs).toBe(2500);
    expect(v.isValid(2600)).toBe(false);
  });

  it('is invalid at once when the lease is lost or etcd answers TTL 0', () => {
    const v = new LeaseValidity(3000, 500);
    v.granted(0);
    v.keepaliveSent(1000);
    v.keepaliveAnswered(0);
    expect(v.isValid(1)).toBe(false);
  });
});
