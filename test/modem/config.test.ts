import { describe, expect, it } from 'vitest';
import {
  type CollectorConfig,
  defaultCollectorConfig,
  validateCollectorConfig,
} from '../../adapters/modem/collector/config.js';

const base: CollectorConfig = {
  ...defaultCollectorConfig,
  nodeId: 'n1',
  modemListen: { host: '127.0.0.1', port: 0 },
  portRange: { first: 20000, last: 20010 },
};

describe('collector configuration', () => {
  it('accepts the defaults with a node id, listen address and port range', () => {
    expect(validateCollectorConfig(base)).toBe(base);
  });

  it('lists every problem at once with MF_CONFIG_INVALID', () => {
    const bad = {
      ...base,
      portRange: { first: 30000, last: 20000 },
      identTimeoutMs: 0,
      forwardListen: { host: '127.0.0.1', port: 0 },
    };
    expect(() => validateCollectorConfig(bad)).toThrow(
      expect.objectContaining({
        code: 'MF_CONFIG_INVALID',
        message: expect.stringMatching(
          /portRange 30000-20000[\s\S]*identTimeoutMs must be > 0[\s\S]*forwardListen needs forwardSecret/,
        ),
      }),
    );
  });

  it('refuses a short forwarding secret', () => {
    expect(() => validateCollectorConfig({ ...base, forwardSecret: 'short' })).toThrow(
      /at least 16 characters/,
    );
  });
});
